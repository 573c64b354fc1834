package provider_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// fixture is a provider over a memory store with a mock verifier.
type fixture struct {
	p      *provider.Provider
	mock   *userverify.Mock
	store  *keystore.Memory
	sealer *keystore.MemorySealer
	client *ctapclient.Client
	cm     *credman.Service
}

func newFixture(t testing.TB, mutate ...func(*provider.Config)) *fixture {
	t.Helper()
	f := &fixture{mock: userverify.NewMock(), store: keystore.NewMemory(), sealer: keystore.NewMemorySealer()}
	cfg := provider.Config{Store: f.store, Sealer: f.sealer, Verifier: f.mock}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := provider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.p, f.cm = p, credman.New(p)
	f.client = ctapclient.New(ctapclient.HandlerFunc(p.ServeCTAP))
	return f
}

const (
	rpID   = "example.com"
	origin = "https://example.com"
)

// createClient answers registration options through credman, as a browser would.
func (f *fixture) createClient(t testing.TB) testrp.Client {
	return func(opts []byte) ([]byte, error) {
		resp, err := f.cm.Create(context.Background(), credman.CreateRequest{RequestJSON: opts, Origin: origin})
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

// getClient answers sign-in options through credman.
func (f *fixture) getClient(t testing.TB) testrp.Client {
	return func(opts []byte) ([]byte, error) {
		resp, err := f.cm.Get(context.Background(), credman.GetRequest{RequestJSON: opts, Origin: origin})
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

// count returns the number of stored credentials.
func (f *fixture) count(t testing.TB) int {
	t.Helper()
	all, err := f.store.Credentials(nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}
