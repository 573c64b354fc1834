package provider_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// A Go test embeds the provider with a memory store and the mock verifier,
// registers a passkey and signs in with it.
func Example() {
	mock := userverify.NewMock() // approves everything unless told otherwise
	p, err := provider.New(provider.Config{
		Store:    keystore.NewMemory(),
		Sealer:   keystore.NewMemorySealer(),
		Verifier: mock,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	cdh := sha256.Sum256([]byte(`{"type":"webauthn.create"}`))
	reg, err := p.MakeCredential(ctx, &ctap.MakeCredentialRequest{
		ClientDataHash:   cdh[:],
		RP:               &ctap.RPEntity{ID: "example.com", Name: "Example"},
		User:             &ctap.UserEntity{ID: []byte{1, 2, 3}, Name: "alice"},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: "public-key", Alg: -7}},
		Options:          map[string]bool{"rk": true, "uv": true},
	})
	if err != nil {
		panic(err)
	}
	ad, _ := ctap.ParseAuthData(reg.AuthData)
	fmt.Println("registered:", reg.Fmt, ad.Flags)

	sig, err := p.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: cdh[:],
		Options: map[string]bool{"uv": true}})
	if err != nil {
		panic(err)
	}
	ad, _ = ctap.ParseAuthData(sig.AuthData)
	fmt.Println("signed in:", ad.Flags, "counter", ad.Counter, "user", sig.User.Name)

	// The next verification is denied: the provider answers OPERATION_DENIED.
	mock.Push(userverify.ErrDenied)
	_, err = p.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: cdh[:]})
	fmt.Println("denied:", errors.Is(err, ctap.ErrOperationDenied), "asked", mock.Calls(), "times")
	// Output:
	// registered: packed UP|UV|AT
	// signed in: UP|UV counter 1 user alice
	// denied: true asked 3 times
}

// A disabled provider, like an "additional provider" switched off on Android,
// refuses without asking anyone.
func ExampleProvider_SetEnabled() {
	p, _ := provider.New(provider.Config{Store: keystore.NewMemory(), Sealer: keystore.NewMemorySealer(),
		Verifier: userverify.NewMock()})
	_ = p.SetEnabled(false)
	_, err := p.GetAssertion(context.Background(), &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: make([]byte, 32)})
	fmt.Println(errors.Is(err, provider.ErrDisabled))
	// Output: true
}
