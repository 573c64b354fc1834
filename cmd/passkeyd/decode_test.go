package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

// runDecodeCLI runs 'passkeyd decode args…' with stdin as standard input,
// and returns what it printed on each stream and its exit code.
func runDecodeCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"decode"}, args...))
	stderr = captureStderr(t, func() {
		if cmd, err := root.ExecuteC(); err != nil {
			code = report(cmd, err)
		}
	})
	return out.String(), stderr, code
}

// captureStderr collects what f writes to os.Stderr, where report prints.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	f()
	os.Stderr = saved
	w.Close()
	return string(<-done)
}

// The spec's packed ES256 registration (WebAuthn L3 §16, see
// internal/decode/testdata), as a browser would send it.
func TestDecodeGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/decode-packed-es256.json")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runDecodeCLI(t, string(in), "--rp-id", "example.org")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	const golden = "testdata/decode-packed-es256.golden"
	if os.Getenv("PASSKEYD_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("output differs from %s (PASSKEYD_UPDATE_GOLDEN=1 rewrites it):\n%s", golden, stdout)
	}
}

func TestDecodeJSON(t *testing.T) {
	in, err := os.ReadFile("testdata/decode-packed-es256.json")
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, code := runDecodeCLI(t, "", "--json", string(in))
	var got struct {
		Kind        string
		Attestation struct {
			Fmt      string
			AuthData struct{ RPID string } `json:"authData"`
		} `json:"attestationObject"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if got.Kind != "RegistrationResponseJSON" || got.Attestation.Fmt != "packed" || got.Attestation.AuthData.RPID != "example.org" {
		t.Errorf("decoded %+v", got)
	}
}

// Errors are one line on stderr: 1 for input that does not decode, 2 for
// no input at all.
func TestDecodeErrorLines(t *testing.T) {
	in, err := os.ReadFile("testdata/decode-packed-es256.json")
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		Response struct{ AttestationObject string }
	}
	if err := json.Unmarshal(in, &reg); err != nil {
		t.Fatal(err)
	}
	obj, _ := base64.RawURLEncoding.DecodeString(reg.Response.AttestationObject)
	authData := obj[bytes.Index(obj, []byte("authData"))+10:]
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string
	}{
		{"truncated", "", []string{base64.RawURLEncoding.EncodeToString(authData[:120])}, exitFailed,
			"passkeyd: authenticatorData: credential public key at byte 87 is truncated at byte 120\n"},
		{"truncated on stdin", hex.EncodeToString(authData[:60]) + "\n", nil, exitFailed,
			"passkeyd: authenticatorData: AT flag set but attested credential data is truncated at byte 60: credentialIdLength 32 needs bytes 55–86\n"},
		{"no input", "", nil, exitUsage,
			"passkeyd: no input: give a response, attestationObject, authenticatorData or clientDataJSON as an argument or on stdin\nRun 'passkeyd decode --help' for usage.\n"},
		{"blank input", " \n", []string{"-"}, exitUsage,
			"passkeyd: no input: give a response, attestationObject, authenticatorData or clientDataJSON as an argument or on stdin\nRun 'passkeyd decode --help' for usage.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runDecodeCLI(t, tc.stdin, tc.args...)
			if code != tc.code || stderr != tc.stderr || stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit %d, stderr %q", code, stderr, stdout, tc.code, tc.stderr)
			}
		})
	}
}
