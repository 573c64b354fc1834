package credman_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

const (
	rpID   = "example.com"
	origin = "https://example.com"
)

// fixture is a Service over a provider with a memory store, memory keys and
// a mock verifier, as a Go program embeds it in its tests.
type fixture struct {
	cm   *credman.Service
	p    *provider.Provider
	mock *userverify.Mock
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{mock: userverify.NewMock()}
	p, err := provider.New(provider.Config{Store: keystore.NewMemory(), Sealer: keystore.NewMemorySealer(),
		Verifier: f.mock, Now: steppingClock()})
	if err != nil {
		t.Fatal(err)
	}
	f.p, f.cm = p, credman.New(p)
	return f
}

// steppingClock moves one second on at every reading, so that passkeys made
// one after the other have distinct creation times ("newest first" is
// then well defined).
func steppingClock() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

// creator answers registration options through credman, as a browser at
// from would.
func (f *fixture) creator(from string) testrp.Client {
	return func(opts []byte) ([]byte, error) {
		resp, err := f.cm.Create(context.Background(), credman.CreateRequest{RequestJSON: opts, Origin: from})
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

// getter answers sign-in options through credman; chosen, if not nil, is
// the entry the user picked in the begin phase.
func (f *fixture) getter(from string, chosen []byte) testrp.Client {
	return func(opts []byte) ([]byte, error) {
		resp, err := f.cm.Get(context.Background(), credman.GetRequest{RequestJSON: opts, Origin: from, CredentialID: chosen})
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

// creationOptions is PublicKeyCredentialCreationOptionsJSON for rp, with
// changes applied to the decoded map.
func creationOptions(rp string, changes ...func(map[string]any)) []byte {
	o := map[string]any{
		"rp":               map[string]any{"id": rp, "name": "Example"},
		"user":             map[string]any{"id": "dXNlci0x", "name": "alice", "displayName": "Alice"},
		"challenge":        "Y2hhbGxlbmdlLWNoYWxsZW5nZS0wMQ",
		"pubKeyCredParams": []any{map[string]any{"type": "public-key", "alg": -7}},
		"authenticatorSelection": map[string]any{
			"residentKey": "required", "userVerification": "required"},
	}
	if rp == "" {
		o["rp"] = map[string]any{"name": "Example"}
	}
	for _, c := range changes {
		c(o)
	}
	return mustJSON(o)
}

// requestOptions is PublicKeyCredentialRequestOptionsJSON for rp.
func requestOptions(rp string, changes ...func(map[string]any)) []byte {
	o := map[string]any{"challenge": "c2lnbi1pbi1jaGFsbGVuZ2UtMDE", "userVerification": "required"}
	if rp != "" {
		o["rpId"] = rp
	}
	for _, c := range changes {
		c(o)
	}
	return mustJSON(o)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// register makes a passkey for user at example.com and returns it.
func (f *fixture) register(t testing.TB, user string) *credman.RegistrationResponse {
	t.Helper()
	resp, err := f.cm.Create(context.Background(), credman.CreateRequest{Origin: origin,
		RequestJSON: creationOptions(rpID, func(o map[string]any) {
			o["user"] = map[string]any{"id": credman.Bytes("id-" + user), "name": user, "displayName": "User " + user}
		})})
	if err != nil {
		t.Fatalf("register %s: %v", user, err)
	}
	return resp
}

// wantCode fails unless err is a *credman.Error with code.
func wantCode(t testing.TB, err error, code string) *credman.Error {
	t.Helper()
	var ce *credman.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *credman.Error with code %s", err, err, code)
	}
	if ce.Code != code {
		t.Fatalf("error code = %s (%v), want %s", ce.Code, err, code)
	}
	if ce.Message == "" || ce.Name == "" {
		t.Fatalf("error %+v lacks a name or a message", ce)
	}
	return ce
}
