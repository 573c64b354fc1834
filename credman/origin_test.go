package credman_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/testrp"
)

// The origin ↔ rpId rules of WebAuthn §5.1.3 step 7 / §5.1.4.1 step 6, as a
// browser applies them: the rpId is the origin's host or a registrable suffix
// of it, never a public suffix (ICANN or private, like github.io), never an
// IP; https, except http for localhost and *.localhost.
var originCases = []struct {
	name, origin, rpID string
	code               string // "" means accepted
	clientOrigin       string // the origin in clientDataJSON, if not origin
}{
	{name: "same host", origin: "https://example.com", rpID: "example.com"},
	{name: "subdomain origin, parent rpId", origin: "https://login.example.com", rpID: "example.com"},
	{name: "deep subdomain, middle rpId", origin: "https://a.b.example.com", rpID: "b.example.com"},
	{name: "rpId defaults to the host", origin: "https://login.example.com", rpID: ""},
	{name: "port", origin: "https://example.com:8443", rpID: "example.com"},
	{name: "default port dropped", origin: "https://example.com:443", rpID: "example.com", clientOrigin: "https://example.com"},
	{name: "trailing slash", origin: "https://example.com/", rpID: "example.com", clientOrigin: "https://example.com"},
	{name: "case", origin: "https://Login.EXAMPLE.com", rpID: "Example.com", clientOrigin: "https://login.example.com"},
	{name: "registrable under co.uk", origin: "https://shop.example.co.uk", rpID: "example.co.uk"},
	{name: "registrable under github.io", origin: "https://alice.github.io", rpID: "alice.github.io"},
	{name: "http localhost", origin: "http://localhost", rpID: "localhost"},
	{name: "http localhost port", origin: "http://localhost:8080", rpID: "localhost"},
	{name: "http localhost default rpId", origin: "http://localhost:8080", rpID: ""},
	{name: "http app.localhost", origin: "http://app.localhost:3000", rpID: "app.localhost"},
	{name: "http app.localhost, rpId localhost", origin: "http://app.localhost:3000", rpID: "localhost"},
	{name: "https localhost", origin: "https://localhost:8443", rpID: "localhost"},

	{name: "subdomain rpId of the origin", origin: "https://example.com", rpID: "login.example.com", code: "rp_id_mismatch"},
	{name: "sibling", origin: "https://login.example.com", rpID: "www.example.com", code: "rp_id_mismatch"},
	{name: "other domain", origin: "https://example.com", rpID: "example.org", code: "rp_id_mismatch"},
	{name: "suffix without a dot", origin: "https://notexample.com", rpID: "example.com", code: "rp_id_mismatch"},
	{name: "public suffix co.uk", origin: "https://example.co.uk", rpID: "co.uk", code: "rp_id_mismatch"},
	{name: "public suffix com", origin: "https://example.com", rpID: "com", code: "rp_id_mismatch"},
	{name: "private suffix github.io", origin: "https://alice.github.io", rpID: "github.io", code: "rp_id_mismatch"},
	{name: "IPv4 rpId", origin: "https://127.0.0.1", rpID: "127.0.0.1", code: "rp_id_mismatch"},
	{name: "IPv4 default rpId", origin: "https://192.0.2.1:8443", rpID: "", code: "rp_id_mismatch"},
	{name: "IPv6 rpId", origin: "https://[::1]", rpID: "::1", code: "rp_id_mismatch"},
	{name: "localhost rpId from a site", origin: "https://example.com", rpID: "localhost", code: "rp_id_mismatch"},
	{name: "http site", origin: "http://example.com", rpID: "example.com", code: "insecure_origin"},
	{name: "http IP", origin: "http://127.0.0.1:8080", rpID: "127.0.0.1", code: "insecure_origin"},
	{name: "http localhost look-alike", origin: "http://localhost.example.com", rpID: "localhost.example.com", code: "insecure_origin"},
	{name: "other scheme", origin: "ftp://example.com", rpID: "example.com", code: "invalid_origin"},
	{name: "no scheme", origin: "example.com", rpID: "example.com", code: "invalid_origin"},
	{name: "path", origin: "https://example.com/login", rpID: "example.com", code: "invalid_origin"},
	{name: "query", origin: "https://example.com?x=1", rpID: "example.com", code: "invalid_origin"},
	{name: "user info", origin: "https://alice@example.com", rpID: "example.com", code: "invalid_origin"},
	{name: "empty", origin: "", rpID: "example.com", code: "invalid_origin"},
	{name: "android without hash", origin: "android:apk-key-hash:", rpID: "example.com", code: "invalid_origin"},
	{name: "android without rpId", origin: "android:apk-key-hash:kffL-daBUxvHpY-4M8yhTavt5QnFEI2LsexohxrGPYU", rpID: "", code: "invalid_request"},
	{name: "android public suffix rpId", origin: "android:apk-key-hash:kffL-daBUxvHpY-4M8yhTavt5QnFEI2LsexohxrGPYU", rpID: "co.uk", code: "rp_id_mismatch"},
	{name: "android", origin: "android:apk-key-hash:kffL-daBUxvHpY-4M8yhTavt5QnFEI2LsexohxrGPYU", rpID: "example.com"},
}

// Every row goes through Create and Get, the way a caller uses them: an
// accepted origin yields a passkey whose rpIdHash and clientDataJSON are
// right; a refused one asks nobody and stores nothing.
func TestOriginAndRPID(t *testing.T) {
	for _, tc := range originCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			reg, err := f.cm.Create(context.Background(), credman.CreateRequest{Origin: tc.origin, RequestJSON: creationOptions(tc.rpID)})
			_, gerr := f.cm.Get(context.Background(), credman.GetRequest{Origin: tc.origin, RequestJSON: requestOptions(tc.rpID)})
			if tc.code != "" {
				wantCode(t, err, tc.code)
				wantCode(t, gerr, tc.code)
				if n := f.mock.Calls(); n != 0 {
					t.Errorf("a refused origin asked the user %d times", n)
				}
				if creds, _, _ := f.p.Stats(); creds != 0 {
					t.Errorf("a refused origin left %d passkeys", creds)
				}
				return
			}
			if err != nil || gerr != nil {
				t.Fatalf("create: %v; get: %v", err, gerr)
			}
			want := tc.clientOrigin
			if want == "" {
				want = tc.origin
			}
			var cd struct{ Type, Origin string }
			if err := json.Unmarshal(reg.Response.ClientDataJSON, &cd); err != nil || cd.Origin != want || cd.Type != "webauthn.create" {
				t.Errorf("clientDataJSON = %s, want origin %s", reg.Response.ClientDataJSON, want)
			}
			checkRPIDHash(t, reg.Response.AuthenticatorData, effectiveRPID(tc.rpID, want))
		})
	}
}

// effectiveRPID is the rpId a browser uses: the one given, or the host.
func effectiveRPID(rpID, origin string) string {
	if rpID != "" {
		return lower(rpID)
	}
	c, err := credman.ParseOrigin(origin, "")
	if err != nil {
		panic(err)
	}
	host, _ := c.CheckRPID("")
	return host
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func checkRPIDHash(t *testing.T, authData []byte, rpID string) {
	t.Helper()
	ad, err := ctap.ParseAuthData(authData)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(rpID)); ad.RPIDHash != want {
		t.Errorf("rpIdHash is not SHA-256(%q)", rpID)
	}
}

// go-webauthn, configured for the origin a browser reports, accepts what a
// subdomain, a port, localhost and *.localhost produce.
func TestOriginsVerifiedByGoWebAuthn(t *testing.T) {
	for _, tc := range []struct{ origin, rpID string }{
		{"https://login.example.com", "example.com"},
		{"https://example.com:8443", "example.com"},
		{"http://localhost:8080", "localhost"},
		{"http://app.localhost:3000", "localhost"},
		{"https://alice.github.io", "alice.github.io"},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			f := newFixture(t)
			rp := testrp.New(t, tc.rpID, tc.origin)
			u := testrp.NewUser("alice")
			if _, err := rp.Register(u, f.creator(tc.origin)); err != nil {
				t.Fatal(err)
			}
			if _, err := rp.Login(u, f.getter(tc.origin, nil)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// An Android app calls with android:apk-key-hash:… and its package name:
// clientDataJSON carries both (as Google Password Manager writes it), and
// go-webauthn configured with that opaque origin verifies the ceremonies.
func TestAndroidAppOrigin(t *testing.T) {
	const (
		app = "android:apk-key-hash:kffL-daBUxvHpY-4M8yhTavt5QnFEI2LsexohxrGPYU"
		pkg = "com.example.passkeys"
	)
	w, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Example", RPOrigins: []string{origin},
		RPOpaqueOrigins: []string{app}})
	if err != nil {
		t.Fatal(err)
	}
	rp := &testrp.RP{W: w, ID: rpID, Origin: app}
	f := newFixture(t)
	u := testrp.NewUser("alice")

	var clientData []byte
	client := func(kind string) testrp.Client {
		return func(opts []byte) ([]byte, error) {
			var resp any
			var err error
			if kind == "create" {
				var r *credman.RegistrationResponse
				r, err = f.cm.Create(context.Background(), credman.CreateRequest{RequestJSON: opts, Origin: app, PackageName: pkg})
				if r != nil {
					resp, clientData = r, r.Response.ClientDataJSON
				}
			} else {
				var r *credman.AuthenticationResponse
				r, err = f.cm.Get(context.Background(), credman.GetRequest{RequestJSON: opts, Origin: app, PackageName: pkg})
				if r != nil {
					resp, clientData = r, r.Response.ClientDataJSON
				}
			}
			if err != nil {
				return nil, err
			}
			return json.Marshal(resp)
		}
	}
	for _, step := range []struct {
		kind string
		run  func() error
	}{
		{"create", func() error { _, err := rp.Register(u, client("create")); return err }},
		{"get", func() error { _, err := rp.Login(u, client("get")); return err }},
	} {
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.kind, err)
		}
		var cd map[string]any
		if err := json.Unmarshal(clientData, &cd); err != nil {
			t.Fatal(err)
		}
		if cd["origin"] != app || cd["androidPackageName"] != pkg || cd["type"] != "webauthn."+step.kind {
			t.Errorf("%s clientDataJSON = %s, want the app origin and androidPackageName", step.kind, clientData)
		}
	}
}
