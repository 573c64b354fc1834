// Package testrp is an independent relying party for tests: go-webauthn
// verifies what passkeyd produces. Only tests import it, so go-webauthn
// stays out of the passkeyd binary.
package testrp

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// User is an account at the relying party.
type User struct {
	ID          []byte
	Name        string
	DisplayName string
	Creds       []webauthn.Credential
}

// WebAuthnID implements webauthn.User.
func (u *User) WebAuthnID() []byte { return u.ID }

// WebAuthnName implements webauthn.User.
func (u *User) WebAuthnName() string { return u.Name }

// WebAuthnDisplayName implements webauthn.User.
func (u *User) WebAuthnDisplayName() string { return u.DisplayName }

// WebAuthnCredentials implements webauthn.User.
func (u *User) WebAuthnCredentials() []webauthn.Credential { return u.Creds }

// NewUser makes a user with a fixed-length random-looking handle.
func NewUser(name string) *User {
	id := []byte(fmt.Sprintf("user-%-27s", name))
	return &User{ID: id[:32], Name: name, DisplayName: "User " + name}
}

// RP is a relying party.
type RP struct {
	W      *webauthn.WebAuthn
	ID     string
	Origin string
}

// New makes a relying party for rpID served at origin.
func New(tb testing.TB, rpID, origin string) *RP {
	tb.Helper()
	w, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Test RP " + rpID, RPOrigins: []string{origin}})
	if err != nil {
		tb.Fatalf("testrp: %v", err)
	}
	return &RP{W: w, ID: rpID, Origin: origin}
}

// Client answers options JSON with a response JSON, as navigator.credentials would.
type Client func(optionsJSON []byte) (responseJSON []byte, err error)

// Register runs a registration ceremony. On success the credential is added
// to u.Creds.
func (rp *RP) Register(u *User, client Client, opts ...webauthn.RegistrationOption) (*webauthn.Credential, error) {
	creation, session, err := rp.W.BeginRegistration(u, opts...)
	if err != nil {
		return nil, fmt.Errorf("testrp: begin registration: %w", err)
	}
	resp, err := call(client, creation.Response)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		return nil, fmt.Errorf("testrp: parse registration response: %w", describe(err))
	}
	cred, err := rp.W.CreateCredential(u, *session, parsed)
	if err != nil {
		return nil, fmt.Errorf("testrp: verify registration: %w", describe(err))
	}
	u.Creds = append(u.Creds, *cred)
	return cred, nil
}

// Login runs a sign-in ceremony for a known user. The stored credential's
// counter is updated on success.
func (rp *RP) Login(u *User, client Client, opts ...webauthn.LoginOption) (*webauthn.Credential, error) {
	assertion, session, err := rp.W.BeginLogin(u, opts...)
	if err != nil {
		return nil, fmt.Errorf("testrp: begin login: %w", err)
	}
	return rp.finishLogin(assertion, func(parsed *protocol.ParsedCredentialAssertionData) (*webauthn.Credential, error) {
		return rp.W.ValidateLogin(u, *session, parsed)
	}, client, u)
}

// DiscoverableLogin runs a sign-in without naming the user; users maps user
// handles to accounts.
func (rp *RP) DiscoverableLogin(users []*User, client Client, opts ...webauthn.LoginOption) (*User, *webauthn.Credential, error) {
	assertion, session, err := rp.W.BeginDiscoverableLogin(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("testrp: begin login: %w", err)
	}
	var who *User
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		for _, u := range users {
			if string(u.ID) == string(userHandle) {
				who = u
				return u, nil
			}
		}
		return nil, fmt.Errorf("no user with handle %x", userHandle)
	}
	cred, err := rp.finishLogin(assertion, func(parsed *protocol.ParsedCredentialAssertionData) (*webauthn.Credential, error) {
		return rp.W.ValidateDiscoverableLogin(handler, *session, parsed)
	}, client, nil)
	if err == nil && who != nil {
		updateCred(who, cred)
	}
	return who, cred, err
}

func (rp *RP) finishLogin(a *protocol.CredentialAssertion, validate func(*protocol.ParsedCredentialAssertionData) (*webauthn.Credential, error), client Client, u *User) (*webauthn.Credential, error) {
	resp, err := call(client, a.Response)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		return nil, fmt.Errorf("testrp: parse assertion response: %w", describe(err))
	}
	cred, err := validate(parsed)
	if err != nil {
		return nil, fmt.Errorf("testrp: verify assertion: %w", describe(err))
	}
	if cred.Authenticator.CloneWarning {
		return cred, fmt.Errorf("testrp: signature counter did not increase (clone warning)")
	}
	if u != nil {
		updateCred(u, cred)
	}
	return cred, nil
}

func updateCred(u *User, cred *webauthn.Credential) {
	for i := range u.Creds {
		if string(u.Creds[i].ID) == string(cred.ID) {
			u.Creds[i] = *cred
		}
	}
}

func call(client Client, options any) ([]byte, error) {
	b, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("testrp: encode options: %w", err)
	}
	return client(b)
}

// describe adds go-webauthn's detail to its error.
func describe(err error) error {
	if pe, ok := err.(*protocol.Error); ok {
		return fmt.Errorf("%w: %s", err, pe.DevInfo)
	}
	return err
}
