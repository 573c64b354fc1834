package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

const (
	testRPID   = "example.com"
	testOrigin = "https://example.com"
)

// testServer is an api.Server over httptest with a memory provider and the
// mock verifier.
type testServer struct {
	*httptest.Server
	api  *Server
	p    *provider.Provider
	mock *userverify.Mock
	logs *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestServer(t *testing.T, testControls, allowExport bool) *testServer {
	t.Helper()
	mock := userverify.NewMock()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	p, err := provider.New(provider.Config{Store: keystore.NewMemory(), Sealer: keystore.NewMemorySealer(),
		Verifier: mock, AllowExport: allowExport, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{P: p, CM: credman.New(p), Status: func() Status { return Status{} }, Log: log, TestControls: testControls}
	ts := &testServer{Server: httptest.NewServer(s.Handler()), api: s, p: p, mock: mock, logs: logs}
	t.Cleanup(func() {
		s.EndStreams()
		ts.Close()
	})
	return ts
}

// call sends a request and decodes the JSON answer into out (if not nil).
// It returns the HTTP status and, for an error answer, the error.
func (ts *testServer) call(t *testing.T, method, path string, in, out any) (int, *credman.Error) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, body %s", method, path, ct, data)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error *credman.Error }
		if err := json.Unmarshal(data, &e); err != nil || e.Error == nil || e.Error.Message == "" {
			t.Fatalf("%s %s: %d with a body that is not an api.sock error: %s", method, path, resp.StatusCode, data)
		}
		return resp.StatusCode, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, nil
}

// mustCall is call for a request that must succeed.
func (ts *testServer) mustCall(t *testing.T, method, path string, in, out any) {
	t.Helper()
	if status, e := ts.call(t, method, path, in, out); e != nil {
		t.Fatalf("%s %s: %d %s: %s", method, path, status, e.Code, e.Message)
	}
}

// wantError checks that a request is refused with status and code.
func (ts *testServer) wantError(t *testing.T, method, path string, in any, status int, code string) *credman.Error {
	t.Helper()
	got, e := ts.call(t, method, path, in, nil)
	if e == nil || got != status || e.Code != code {
		t.Fatalf("%s %s: got %d %+v, want %d %s", method, path, got, e, status, code)
	}
	return e
}

// client answers options through api.sock's credman routes, as the
// browser shim does.
func (ts *testServer) client(t *testing.T, kind string) testrp.Client {
	return func(opts []byte) ([]byte, error) {
		var out map[string]json.RawMessage
		status, e := ts.call(t, "POST", "/v1/credman/"+kind, map[string]any{"requestJson": json.RawMessage(opts), "origin": testOrigin}, &out)
		if e != nil {
			return nil, fmt.Errorf("HTTP %d: %w", status, e)
		}
		return out[map[string]string{"create": "registrationResponseJson", "get": "authenticationResponseJson"}[kind]], nil
	}
}

func newPKCS8(t *testing.T, curve elliptic.Curve) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, der
}

var allTestRoutes = []struct{ method, path string }{
	{"POST", "/v1/test/credentials"}, {"GET", "/v1/test/credentials"}, {"GET", "/v1/test/credentials?keys=1"},
	{"DELETE", "/v1/test/credentials"}, {"DELETE", "/v1/test/credentials/AAAAAAAAAAAAAAAAAAAAAA"},
	{"POST", "/v1/test/credentials/AAAAAAAAAAAAAAAAAAAAAA/props"}, {"POST", "/v1/test/uv"}, {"DELETE", "/v1/test/uv"},
	{"POST", "/v1/test/faults"}, {"GET", "/v1/test/faults"}, {"DELETE", "/v1/test/faults"}, {"GET", "/v1/test/events"},
}

func TestTestControlsOff(t *testing.T) {
	ts := newTestServer(t, false, true)
	for _, r := range allTestRoutes {
		e := ts.wantError(t, r.method, r.path, map[string]any{}, http.StatusNotFound, "test_controls_off")
		if !strings.Contains(e.Message, "--test-controls") || !strings.Contains(e.Message, "PASSKEYD_TEST_CONTROLS=1") {
			t.Errorf("%s %s: %q does not name the flag", r.method, r.path, e.Message)
		}
	}
	ts.mustCall(t, "GET", "/v1/status", nil, nil) // the rest is served
}

func TestTestControlsUnknownRoute(t *testing.T) {
	ts := newTestServer(t, true, false)
	ts.wantError(t, "GET", "/v1/test/nope", nil, http.StatusNotFound, "not_found")
	for _, r := range []struct{ method, path, allow string }{
		{"PUT", "/v1/test/credentials", "GET, POST, DELETE"},
		{"GET", "/v1/test/uv", "POST, DELETE"},
		{"GET", "/v1/test/credentials/abc", "DELETE"},
	} {
		ts.wantMethodNotAllowed(t, r.method, r.path, r.allow)
	}
}

func TestAddCredentialAndSignIn(t *testing.T) {
	ts := newTestServer(t, true, true)
	key, pkcs8 := newPKCS8(t, elliptic.P256())
	u := testrp.NewUser("carol")
	id := []byte("webdriver-credential-01")
	in := map[string]any{"credentialId": b64(id), "isResidentCredential": true, "rpId": testRPID,
		"privateKey": b64(pkcs8), "userHandle": b64(u.ID), "signCount": 41, "backupEligibility": true,
		"backupState": false, "userName": "carol", "userDisplayName": "Carol"}
	var added credentialJSON
	ts.mustCall(t, "POST", "/v1/test/credentials", in, &added)
	if added.CredentialID != b64(id) || added.PrivateKey != "" || *added.SignCount != 41 || !added.BackupEligibility {
		t.Fatalf("answer %+v", added)
	}
	ts.wantError(t, "POST", "/v1/test/credentials", in, http.StatusConflict, "credential_exists")

	// The provider has it, and a relying party accepts its signatures.
	creds, err := ts.p.TestCredentials(true)
	if err != nil || len(creds) != 1 || string(creds[0].PrivateKey) != string(pkcs8) || creds[0].UserDisplayName != "Carol" {
		t.Fatalf("provider: %v %+v", err, creds)
	}
	cose, err := ctap.COSEKeyFromECDSA(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	u.Creds = []webauthn.Credential{{ID: id, PublicKey: ctap.MustMarshal(cose), Authenticator: webauthn.Authenticator{SignCount: 41},
		Flags: webauthn.CredentialFlags{BackupEligible: true}}}
	rp := testrp.New(t, testRPID, testOrigin)
	c, err := rp.Login(u, ts.client(t, "get"))
	if err != nil || c.Authenticator.SignCount != 42 {
		t.Fatalf("sign-in with the added credential: %v", err)
	}

	// Get Credentials, with the key when the server allows export.
	var list struct{ Credentials []credentialJSON }
	ts.mustCall(t, "GET", "/v1/test/credentials", nil, &list)
	if len(list.Credentials) != 1 || list.Credentials[0].PrivateKey != "" || *list.Credentials[0].SignCount != 42 ||
		list.Credentials[0].UserHandle != b64(u.ID) {
		t.Fatalf("list %+v", list)
	}
	ts.mustCall(t, "GET", "/v1/test/credentials?keys=1", nil, &list)
	if list.Credentials[0].PrivateKey != b64(pkcs8) {
		t.Fatal("the private key did not come back")
	}
	ts.wantError(t, "GET", "/v1/test/credentials?keys=maybe", nil, http.StatusBadRequest, "invalid_request")
}

func TestAddCredentialRefusals(t *testing.T) {
	ts := newTestServer(t, true, false)
	_, pkcs8 := newPKCS8(t, elliptic.P256())
	_, p384 := newPKCS8(t, elliptic.P384())
	good := func() map[string]any {
		return map[string]any{"credentialId": b64([]byte("0123456789abcdef")), "isResidentCredential": true,
			"rpId": testRPID, "privateKey": b64(pkcs8), "userHandle": "dXNlcg", "signCount": nil}
	}
	for _, tc := range []struct {
		name, field string
		value       any
	}{
		{"short ID", "credentialId", "c2hvcnQ"},
		{"ID not base64url", "credentialId", "!!!"},
		{"no rpId", "rpId", ""},
		{"no user handle", "userHandle", ""},
		{"no key", "privateKey", ""},
		{"not PKCS#8", "privateKey", "AAAA"},
		{"P-384", "privateKey", b64(p384)},
		{"BS without BE", "backupState", true},
		{"largeBlob", "largeBlob", "AAAA"},
		{"unknown field", "hasResidentKey", true},
		{"negative counter", "signCount", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			in[tc.field] = tc.value
			ts.wantError(t, "POST", "/v1/test/credentials", in, http.StatusBadRequest, "invalid_request")
		})
	}
	if creds, _ := ts.p.TestCredentials(false); len(creds) != 0 {
		t.Fatalf("a refused credential was stored: %+v", creds)
	}
	// Standard base64 (Chrome DevTools) and a null counter are accepted.
	in := good()
	in["privateKey"] = strings.NewReplacer("-", "+", "_", "/").Replace(b64(pkcs8)) + "=="
	ts.mustCall(t, "POST", "/v1/test/credentials", in, nil)
	// Keys are refused without AllowExport.
	e := ts.wantError(t, "GET", "/v1/test/credentials?keys=1", nil, http.StatusForbidden, "export_refused")
	if !strings.Contains(e.Message, "--allow-export") {
		t.Errorf("refusal %q does not name --allow-export", e.Message)
	}
}

func TestRemoveAndProps(t *testing.T) {
	ts := newTestServer(t, true, false)
	_, pkcs8 := newPKCS8(t, elliptic.P256())
	ids := []string{b64([]byte("credential-number-1")), b64([]byte("credential-number-2")), b64([]byte("credential-number-3"))}
	for _, id := range ids {
		ts.mustCall(t, "POST", "/v1/test/credentials", map[string]any{"credentialId": id, "rpId": testRPID,
			"privateKey": b64(pkcs8), "signCount": 5}, nil)
	}
	props := "/v1/test/credentials/" + ids[0] + "/props"
	var got credentialJSON
	ts.mustCall(t, "POST", props, map[string]any{"backupEligibility": true, "backupState": true, "signCount": 9}, &got)
	if !got.BackupEligibility || !got.BackupState || *got.SignCount != 9 {
		t.Fatalf("props answer %+v", got)
	}
	ts.mustCall(t, "POST", props, map[string]any{"signCount": nil}, &got) // null leaves it alone
	if c, err := ts.api.findCredential([]byte("credential-number-1")); err != nil || !c.BackupState || c.SignCount != 9 {
		t.Fatalf("provider after props: %v %+v", err, c)
	}
	ts.wantError(t, "POST", props, map[string]any{"signCount": 3}, http.StatusBadRequest, "invalid_request")
	ts.wantError(t, "POST", props, map[string]any{"backupEligibility": false}, http.StatusBadRequest, "invalid_request")
	ts.wantError(t, "POST", "/v1/test/credentials/bm9wZS1ub3BlLW5vcGUtbm9wZQ/props", map[string]any{"backupState": false},
		http.StatusNotFound, "unknown_credential")
	ts.wantError(t, "POST", "/v1/test/credentials/!!/props", map[string]any{}, http.StatusBadRequest, "invalid_request")

	ts.mustCall(t, "DELETE", "/v1/test/credentials/"+ids[1], nil, nil)
	ts.wantError(t, "DELETE", "/v1/test/credentials/"+ids[1], nil, http.StatusNotFound, "unknown_credential")
	if creds, _ := ts.p.TestCredentials(false); len(creds) != 2 {
		t.Fatalf("%d credentials after removing one of 3", len(creds))
	}
	ts.mustCall(t, "DELETE", "/v1/test/credentials", nil, nil)
	if creds, _ := ts.p.TestCredentials(false); len(creds) != 0 {
		t.Fatalf("%d credentials after removing all", len(creds))
	}
}

func TestUserVerifiedRoutes(t *testing.T) {
	ts := newTestServer(t, true, false)
	rp := testrp.New(t, testRPID, testOrigin)
	u := testrp.NewUser("dan")
	if _, err := rp.Register(u, ts.client(t, "create")); err != nil {
		t.Fatal(err)
	}
	login := func() error { _, err := rp.Login(u, ts.client(t, "get")); return err }

	ts.mustCall(t, "POST", "/v1/test/uv", map[string]any{"isUserVerified": false, "count": 1}, nil)
	if err := login(); err == nil || !strings.Contains(err.Error(), "not_allowed") {
		t.Fatalf("scripted denial: %v", err)
	}
	if err := login(); err != nil {
		t.Fatalf("after one scripted denial: %v", err)
	}
	ts.mock.SetDefault(userverify.ErrDenied)
	ts.mustCall(t, "POST", "/v1/test/uv", map[string]any{"isUserVerified": true}, nil)
	for range 2 {
		if err := login(); err != nil {
			t.Fatalf("scripted approval: %v", err)
		}
	}
	calls := ts.mock.Calls()
	ts.mustCall(t, "DELETE", "/v1/test/uv", nil, nil)
	if err := login(); err == nil {
		t.Fatal("after clearing, the mock's denial did not count")
	}
	if ts.mock.Calls() != calls+1 {
		t.Fatalf("the verifier was asked %d times after clearing, want 1", ts.mock.Calls()-calls)
	}
	ts.wantError(t, "POST", "/v1/test/uv", map[string]any{"count": 1}, http.StatusBadRequest, "invalid_request")
	ts.wantError(t, "POST", "/v1/test/uv", map[string]any{"isUserVerified": true, "count": -1}, http.StatusBadRequest, "invalid_request")
}

func TestFaultRoutes(t *testing.T) {
	ts := newTestServer(t, true, false)
	for _, status := range []any{"OPERATION_DENIED", "CTAP2_ERR_OPERATION_DENIED", "operation_denied", "0x27", 39} {
		var f faultJSON
		ts.mustCall(t, "POST", "/v1/test/faults", map[string]any{"kind": "status", "op": "create", "status": status}, &f)
		if string(f.Status) != `"CTAP2_ERR_OPERATION_DENIED"` || f.Count != 1 || f.Op != "create" || f.ID == 0 {
			t.Errorf("status %v: answer %+v", status, f)
		}
	}
	ts.mustCall(t, "DELETE", "/v1/test/faults", nil, nil)
	if len(ts.p.Faults()) != 0 {
		t.Fatal("DELETE /v1/test/faults left faults")
	}

	ts.mustCall(t, "POST", "/v1/test/faults", map[string]any{"kind": "delay", "op": "get", "count": 2, "delay": "10ms"}, nil)
	ts.mustCall(t, "POST", "/v1/test/faults", map[string]any{"kind": "credman-error", "credmanCode": "timeout"}, nil)
	var list struct{ Faults []faultJSON }
	ts.mustCall(t, "GET", "/v1/test/faults", nil, &list)
	if len(list.Faults) != 2 || list.Faults[0].Delay != "10ms" || list.Faults[0].Count != 2 ||
		list.Faults[1].Op != "any" || list.Faults[1].CredmanCode != "timeout" {
		t.Fatalf("faults %+v", list.Faults)
	}
	pf := ts.p.Faults()
	if pf[0].Delay != 10*time.Millisecond || pf[1].Kind != provider.FaultCredmanError {
		t.Fatalf("provider faults %+v", pf)
	}

	// An operation consumes the first fault that applies; the relying party
	// sees it, then a clean operation.
	ts.mustCall(t, "DELETE", "/v1/test/faults", nil, nil)
	rp := testrp.New(t, testRPID, testOrigin)
	u := testrp.NewUser("erin")
	ts.mustCall(t, "POST", "/v1/test/faults", map[string]any{"kind": "status", "op": "create", "status": "OPERATION_DENIED"}, nil)
	if _, err := rp.Register(u, ts.client(t, "create")); err == nil || !strings.Contains(err.Error(), "not_allowed") {
		t.Fatalf("registration with an injected OPERATION_DENIED: %v", err)
	}
	if len(ts.p.Faults()) != 0 {
		t.Fatalf("fault not consumed: %+v", ts.p.Faults())
	}
	if _, err := rp.Register(u, ts.client(t, "create")); err != nil {
		t.Fatalf("the registration after the fault: %v", err)
	}
	if !strings.Contains(ts.logs.String(), "injecting fault") {
		t.Error("the injected fault was not logged")
	}
}

func TestFaultRefusals(t *testing.T) {
	ts := newTestServer(t, true, false)
	for _, tc := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"unknown kind", map[string]any{"kind": "gremlins"}, "bogus-signature"},
		{"unknown op", map[string]any{"kind": "bogus-signature", "op": "sometimes"}, "create, get or any"},
		{"negative count", map[string]any{"kind": "bogus-signature", "count": -2}, "count"},
		{"status missing", map[string]any{"kind": "status"}, "OPERATION_DENIED"},
		{"status unknown", map[string]any{"kind": "status", "status": "GREMLINS"}, "GREMLINS"},
		{"status zero", map[string]any{"kind": "status", "status": 0}, "1 to 255"},
		{"status OK", map[string]any{"kind": "status", "status": "CTAP2_OK"}, "CTAP2_OK"},
		{"status on another kind", map[string]any{"kind": "uv-cleared", "status": "OPERATION_DENIED"}, "kind status only"},
		{"code missing", map[string]any{"kind": "credman-error"}, "not_allowed"},
		{"code unknown", map[string]any{"kind": "credman-error", "credmanCode": "oops"}, "oops"},
		{"code on another kind", map[string]any{"kind": "delay", "delay": "1s", "credmanCode": "timeout"}, "credman-error only"},
		{"delay missing", map[string]any{"kind": "delay"}, "250ms"},
		{"delay not a duration", map[string]any{"kind": "delay", "delay": "soon"}, "soon"},
		{"delay too long", map[string]any{"kind": "delay", "delay": "1h"}, "10 minutes"},
		{"delay on another kind", map[string]any{"kind": "up-cleared", "delay": "1s"}, "delay only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ts.wantError(t, "POST", "/v1/test/faults", tc.in, http.StatusBadRequest, "invalid_request")
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q does not say %q", e.Message, tc.want)
			}
		})
	}
	if len(ts.p.Faults()) != 0 {
		t.Fatalf("a refused fault was queued: %+v", ts.p.Faults())
	}
}

// eventStream reads /v1/test/events line by line.
type eventStream struct {
	lines  chan eventJSON
	cancel context.CancelFunc
	header http.Header
}

func (ts *testServer) events(t *testing.T) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/test/events", nil)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	es := &eventStream{lines: make(chan eventJSON, 64), cancel: cancel, header: resp.Header}
	go func() {
		defer resp.Body.Close()
		defer close(es.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var e eventJSON
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e.Type = "malformed: " + sc.Text()
			}
			es.lines <- e
		}
	}()
	t.Cleanup(cancel)
	if first := es.next(t); first.Type != EventSubscribed {
		t.Fatalf("first line %+v, want %s", first, EventSubscribed)
	}
	return es
}

func (es *eventStream) next(t *testing.T) eventJSON {
	t.Helper()
	select {
	case e, ok := <-es.lines:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return eventJSON{}
}

func TestEventsRoute(t *testing.T) {
	ts := newTestServer(t, true, false)
	es := ts.events(t)
	if ct := es.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	rp := testrp.New(t, testRPID, testOrigin)
	u := testrp.NewUser("fay")
	cred, err := rp.Register(u, ts.client(t, "create"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Login(u, ts.client(t, "get")); err != nil { // counter 1
		t.Fatal(err)
	}
	ts.mustCall(t, "POST", "/v1/test/faults", map[string]any{"kind": "counter-lowered", "op": "get"}, nil)
	if _, err := rp.Login(u, ts.client(t, "get")); err == nil || !strings.Contains(err.Error(), "clone") {
		t.Fatalf("a lowered counter: %v", err)
	}
	ts.mustCall(t, "POST", "/v1/test/credentials/"+b64(cred.ID)+"/props", map[string]any{"signCount": 7}, nil)
	ts.mustCall(t, "DELETE", "/v1/test/credentials", nil, nil)

	id := b64(cred.ID)
	want := []eventJSON{
		{Type: "verification", Operation: "make-credential", Outcome: "verified", RPID: testRPID, UserName: "fay"},
		{Type: "credential-added", CredentialID: id, RPID: testRPID, UserName: "fay"},
		{Type: "verification", Operation: "get-assertion", Outcome: "verified", RPID: testRPID, UserName: "fay"},
		{Type: "credential-asserted", CredentialID: id, RPID: testRPID, UserName: "fay"},
		{Type: "fault-injected", Fault: "counter-lowered", Operation: "get"},
		{Type: "verification", Operation: "get-assertion", Outcome: "verified", RPID: testRPID, UserName: "fay"},
		{Type: "credential-asserted", CredentialID: id, RPID: testRPID, UserName: "fay"},
		{Type: "credential-updated", CredentialID: id},
		{Type: "credential-deleted", CredentialID: id, RPID: testRPID, UserName: "fay"},
	}
	assertedCounts := map[int]uint32{3: 1, 6: 0} // 1, then 2 lowered to 0
	for i, w := range want {
		got := es.next(t)
		if got.Time.IsZero() {
			t.Errorf("event %d has no time", i)
		}
		if n, ok := assertedCounts[i]; ok && (got.SignCount == nil || *got.SignCount != n) {
			t.Errorf("event %d: signCount %v, want %d", i, got.SignCount, n)
		}
		got.Time, got.SignCount = time.Time{}, nil
		if got != w {
			t.Errorf("event %d\n got %+v\nwant %+v", i, got, w)
		}
	}

	// The stream ends when the client goes away...
	es.cancel()
	waitFor(t, "the stream to close", func() bool { return strings.Contains(ts.logs.String(), "event stream closed") })
	// ...and when the server shuts down.
	es2 := ts.events(t)
	ts.api.EndStreams()
	select {
	case _, ok := <-es2.lines:
		if ok {
			t.Fatal("an event after EndStreams")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("EndStreams did not end the stream")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]ctap.Status{
		"OPERATION_DENIED": ctap.ErrOperationDenied, "CTAP2_ERR_OPERATION_DENIED": ctap.ErrOperationDenied,
		"err_no_credentials": ctap.ErrNoCredentials, " OTHER ": ctap.ErrOther, "CTAP1_ERR_TIMEOUT": ctap.ErrTimeout,
		"0x2F": ctap.ErrUserActionTimeout, "46": ctap.ErrNoCredentials,
	} {
		if got, err := ParseStatus(in); err != nil || got != want {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "OK", "CTAP2_OK", "0", "256", "ERR_", "DENIED"} {
		if got, err := ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q) = %v, want an error", bad, got)
		}
	}
}
