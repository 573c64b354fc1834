package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// browser is an HTTP client with a cookie jar that answers WebAuthn
// options with credman, as the shim does in a real browser.
type browser struct {
	t      *testing.T
	base   string
	origin string
	http   *http.Client
	cm     *credman.Service
}

func newBrowser(t *testing.T) (*browser, *userverify.Mock) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	srv, err := newServer("localhost", origin, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.handler())
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)

	mock := userverify.NewMock()
	p, err := provider.New(provider.Config{Store: keystore.NewMemory(), Sealer: keystore.NewMemorySealer(), Verifier: mock})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: ts.URL, origin: origin, http: &http.Client{Jar: jar}, cm: credman.New(p)}, mock
}

// post sends JSON and decodes the answer; it returns the HTTP status.
func (b *browser) post(path string, in any, out any) int {
	b.t.Helper()
	body, _ := json.Marshal(in)
	if raw, ok := in.([]byte); ok {
		body = raw
	}
	resp, err := b.http.Post(b.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, out); err != nil {
		b.t.Fatalf("%s answered %s: %v", path, data, err)
	}
	return resp.StatusCode
}

func (b *browser) register(name string) (map[string]any, error) {
	var options json.RawMessage
	if st := b.post("/register/begin", map[string]string{"username": name}, &options); st != http.StatusOK {
		b.t.Fatalf("register/begin: %d %s", st, options)
	}
	resp, err := b.cm.Create(context.Background(), credman.CreateRequest{RequestJSON: credman.RequestJSON(options), Origin: b.origin})
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if st := b.post("/register/finish", mustJSON(b.t, resp), &out); st != http.StatusOK {
		b.t.Fatalf("register/finish: %d %v", st, out)
	}
	return out, nil
}

func (b *browser) login(name string) map[string]any {
	var options json.RawMessage
	if st := b.post("/login/begin", map[string]string{"username": name}, &options); st != http.StatusOK {
		b.t.Fatalf("login/begin: %d %s", st, options)
	}
	resp, err := b.cm.Get(context.Background(), credman.GetRequest{RequestJSON: credman.RequestJSON(options), Origin: b.origin})
	if err != nil {
		b.t.Fatal(err)
	}
	var out map[string]any
	if st := b.post("/login/finish", mustJSON(b.t, resp), &out); st != http.StatusOK {
		b.t.Fatalf("login/finish: %d %v", st, out)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRegisterAndSignIn(t *testing.T) {
	b, _ := newBrowser(t)
	reg, err := b.register("alice")
	if err != nil {
		t.Fatal(err)
	}
	if reg["ok"] != true || reg["username"] != "alice" || reg["userVerified"] != true {
		t.Errorf("register/finish = %v", reg)
	}
	if got := b.login(""); got["username"] != "alice" || got["counter"] != float64(1) {
		t.Errorf("discoverable sign-in = %v, want alice with counter 1", got)
	}
	if got := b.login("alice"); got["username"] != "alice" || got["counter"] != float64(2) {
		t.Errorf("sign-in as alice = %v, want counter 2", got)
	}
	var me map[string]string
	resp, err := b.http.Get(b.base + "/me")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if me["username"] != "alice" {
		t.Errorf("/me = %v", me)
	}

	// A second passkey for alice is refused: the server lists her passkey
	// in excludeCredentials.
	_, err = b.register("alice")
	var ce *credman.Error
	if !errors.As(err, &ce) || ce.Name != "InvalidStateError" {
		t.Errorf("second registration: %v, want InvalidStateError", err)
	}
}

func TestRefusals(t *testing.T) {
	b, _ := newBrowser(t)
	var out map[string]any
	if st := b.post("/register/finish", []byte(`{}`), &out); st != http.StatusBadRequest || out["error"] == nil {
		t.Errorf("finish without begin: %d %v", st, out)
	}
	if st := b.post("/register/begin", map[string]string{"username": "a b"}, &out); st != http.StatusBadRequest {
		t.Errorf("bad user name: %d %v", st, out)
	}
	if st := b.post("/login/begin", map[string]string{"username": "nobody"}, &out); st != http.StatusNotFound {
		t.Errorf("unknown user: %d %v", st, out)
	}
	// A response for another origin is not verified.
	var options json.RawMessage
	b.post("/register/begin", map[string]string{"username": "bob"}, &options)
	resp, err := b.cm.Create(context.Background(), credman.CreateRequest{RequestJSON: credman.RequestJSON(options), Origin: "http://app.localhost:1"})
	if err != nil {
		t.Fatal(err)
	}
	if st := b.post("/register/finish", mustJSON(t, resp), &out); st != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error"]), "origin") {
		t.Errorf("wrong origin: %d %v", st, out)
	}
}

func TestPage(t *testing.T) {
	b, _ := newBrowser(t)
	resp, err := b.http.Get(b.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"navigator.credentials.create", "navigator.credentials.get", `id="register"`, `id="login"`, `id="status"`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the page lacks %s", want)
		}
	}
}
