// Package testcontrols_test holds the Go recipes of docs/testing.md: the
// provider embedded in a test with userverify.Mock, credman playing the
// browser, and go-webauthn as the relying party under test.
package testcontrols_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

const (
	rpID   = "example.com"
	origin = "https://example.com"
)

// newProvider embeds passkeyd: memory store and keys, and a Mock that
// approves every verification until told otherwise.
func newProvider(t *testing.T, cfg provider.Config) (*provider.Provider, *userverify.Mock) {
	t.Helper()
	mock := userverify.NewMock()
	cfg.Store, cfg.Sealer, cfg.Verifier = keystore.NewMemory(), keystore.NewMemorySealer(), mock
	p, err := provider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, mock
}

// user is an account at the relying party.
type user struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func newUser(name string) *user { return &user{id: []byte("id-" + name), name: name} }

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// relyingParty runs whole ceremonies: go-webauthn begins and verifies,
// passkeyd answers through credman as a browser would.
type relyingParty struct {
	w  *webauthn.WebAuthn
	cm *credman.Service
}

func newRelyingParty(t *testing.T, p *provider.Provider) *relyingParty {
	t.Helper()
	w, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Example", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return &relyingParty{w: w, cm: credman.New(p)}
}

// register returns the credential the relying party stored, or the error
// passkeyd answered (a *credman.Error) or the relying party's refusal.
func (rp *relyingParty) register(u *user, opts ...webauthn.RegistrationOption) (*webauthn.Credential, error) {
	options, session, err := rp.w.BeginRegistration(u, opts...)
	if err != nil {
		return nil, err
	}
	request, _ := json.Marshal(options.Response)
	response, err := rp.cm.Create(context.Background(), credman.CreateRequest{RequestJSON: request, Origin: origin})
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(response)
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, detail(err)
	}
	cred, err := rp.w.CreateCredential(u, *session, parsed)
	if err != nil {
		return nil, detail(err)
	}
	u.creds = append(u.creds, *cred)
	return cred, nil
}

// signIn returns the credential as the relying party updated it (counter,
// flags, CloneWarning), or why the sign-in failed.
func (rp *relyingParty) signIn(u *user, opts ...webauthn.LoginOption) (*webauthn.Credential, error) {
	options, session, err := rp.w.BeginLogin(u, opts...)
	if err != nil {
		return nil, err
	}
	request, _ := json.Marshal(options.Response)
	response, err := rp.cm.Get(context.Background(), credman.GetRequest{RequestJSON: request, Origin: origin})
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(response)
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, detail(err)
	}
	cred, err := rp.w.ValidateLogin(u, *session, parsed)
	if err != nil {
		return nil, detail(err)
	}
	for i := range u.creds {
		if string(u.creds[i].ID) == string(cred.ID) {
			u.creds[i] = *cred
		}
	}
	return cred, nil
}

// detail adds go-webauthn's explanation to its error.
func detail(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w: %s", err, pe.DevInfo)
	}
	return err
}
