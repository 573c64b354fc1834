package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

// updateGolden rewrites the golden files in testdata/ instead of comparing.
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	time.Local = time.UTC // the CLI prints local times; goldens are in UTC
	os.Exit(m.Run())
}

// testDaemon is a passkeyd started in process, with a command: UV hook that
// logs each operation and answers with the exit code in a file.
type testDaemon struct {
	d        *daemon.Daemon
	state    string
	runtime  string
	hookLog  string
	decision string
}

// shortTempDir makes a directory short enough for Unix socket paths.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startDaemon starts a daemon whose UV hook approves until told otherwise.
// mutate adjusts the configuration (state directory, keystore, ...).
func startDaemon(t testing.TB, mutate ...func(*daemon.Config)) *testDaemon {
	t.Helper()
	base := shortTempDir(t)
	td := &testDaemon{state: filepath.Join(base, "state"), runtime: filepath.Join(base, "run"),
		hookLog: filepath.Join(base, "uv.log"), decision: filepath.Join(base, "uv.decision")}
	hook := filepath.Join(base, "uv-hook")
	script := fmt.Sprintf("#!/bin/sh\necho \"$PASSKEYD_UV_OPERATION\" >> %s\nexit $(cat %s)\n", td.hookLog, td.decision)
	if err := os.WriteFile(hook, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	td.setUV(t, true)
	cfg := daemon.Config{StateDir: td.state, RuntimeDir: td.runtime, Ephemeral: true, UV: "command:" + hook,
		UVTimeout: 10 * time.Second, Version: "test"}
	for _, m := range mutate {
		m(&cfg)
	}
	d, err := daemon.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	td.d = d
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return td
}

// setUV makes the hook approve or deny from now on.
func (td *testDaemon) setUV(t testing.TB, approve bool) {
	t.Helper()
	code := map[bool]string{true: "0", false: "1"}[approve]
	if err := os.WriteFile(td.decision, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
}

// uvAsks returns the operations the hook was asked about so far.
func (td *testDaemon) uvAsks(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(td.hookLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// result is what one CLI run printed and its exit code.
type result struct {
	stdout, stderr string
	report         string // what report printed for the error, also in stderr
	code           int
}

// stderrMu serialises the swap of os.Stderr, where report writes.
var stderrMu sync.Mutex

// runCLI runs one command line against td (nil: no daemon flags added)
// with stdin, as main would, and captures its output and exit code.
func runCLI(t testing.TB, td *testDaemon, stdin string, args ...string) result {
	t.Helper()
	if td != nil {
		// Global flags first: arguments after "--" are all positional.
		args = append([]string{"--runtime-dir", td.runtime, "--state-dir", td.state}, args...)
	}
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	cmd, err := root.ExecuteC()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if err != nil {
		line, code := captureReport(t, func() int { return report(cmd, err) })
		r.stderr += line
		r.report, r.code = line, code
	}
	return r
}

// captureReport runs fn with os.Stderr sent to a file, and returns what it wrote.
func captureReport(t testing.TB, fn func() int) (string, int) {
	t.Helper()
	stderrMu.Lock()
	defer stderrMu.Unlock()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	code := fn()
	os.Stderr = saved
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), code
}

// mustRun runs a command line that must succeed.
func mustRun(t testing.TB, td *testDaemon, args ...string) string {
	t.Helper()
	r := runCLI(t, td, "", args...)
	if r.code != 0 {
		t.Fatalf("passkeyd %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// ctapClient is a CTAP client of td's ctaphid.sock on a channel of its own.
func (td *testDaemon) ctapClient(t testing.TB) *ctapclient.Client {
	t.Helper()
	hid, err := hidclient.Dial(filepath.Join(td.runtime, daemon.CTAPHIDSocket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hid.Close() })
	return ctapclient.New(hid)
}

// register makes a discoverable passkey over ctaphid.sock, with a known
// user handle ("handle-" + name), and returns its credential ID.
func (td *testDaemon) register(t testing.TB, rpID, name, display string) []byte {
	t.Helper()
	req := &ctap.MakeCredentialRequest{ClientDataHash: hash("register " + name),
		RP:               &ctap.RPEntity{ID: rpID, Name: "RP " + rpID},
		User:             &ctap.UserEntity{ID: []byte("handle-" + name), Name: name, DisplayName: display},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: ctap.COSEAlgES256}},
		Options:          map[string]bool{"rk": true, "uv": true}}
	resp, err := td.ctapClient(t).MakeCredential(context.Background(), req, nil)
	if err != nil {
		t.Fatalf("register %s at %s: %v", name, rpID, err)
	}
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	if ad.Attested == nil {
		t.Fatal("no attested credential data")
	}
	return ad.Attested.CredentialID
}

// signIn runs GetAssertion at rpID allowing only credential id.
func (td *testDaemon) signIn(t testing.TB, rpID string, id []byte) error {
	t.Helper()
	req := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: hash("sign in"),
		AllowList: []ctap.CredentialDescriptor{{Type: ctap.PublicKeyType, ID: id}},
		Options:   map[string]bool{"uv": true}}
	_, err := td.ctapClient(t).GetAssertion(context.Background(), req, nil)
	return err
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// oneLine checks the exit code and that the error is one line
// "passkeyd: ...want..." (a usage error adds the line that points to --help).
func oneLine(t testing.TB, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.report, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "passkeyd: ") || !strings.Contains(lines[0], want) {
		t.Errorf("error %q does not say %q", r.report, want)
	}
	if wantLines := map[bool]int{true: 2, false: 1}[code == exitUsage]; len(lines) != wantLines {
		t.Errorf("error has %d lines, want %d: %q", len(lines), wantLines, r.report)
	}
}

// fakeTerminal makes the commands treat stdin as a terminal.
func fakeTerminal(t testing.TB) {
	saved := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return true }
	t.Cleanup(func() { stdinIsTerminal = saved })
}
