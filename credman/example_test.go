package credman_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// A Go test embeds the provider behind credman: options JSON from a relying
// party in, the JSON a browser would send back out.
func Example() {
	p, err := provider.New(provider.Config{Store: keystore.NewMemory(), Sealer: keystore.NewMemorySealer(),
		Verifier: userverify.NewMock()})
	if err != nil {
		panic(err)
	}
	cm := credman.New(p)
	ctx := context.Background()

	reg, err := cm.Create(ctx, credman.CreateRequest{Origin: "https://login.example.com", RequestJSON: []byte(`{
		"rp": {"id": "example.com", "name": "Example"},
		"user": {"id": "dXNlci0x", "name": "alice", "displayName": "Alice"},
		"challenge": "Y2hhbGxlbmdlLTE",
		"pubKeyCredParams": [{"type": "public-key", "alg": -7}],
		"authenticatorSelection": {"residentKey": "required"},
		"extensions": {"credProps": true}}`)})
	if err != nil {
		panic(err)
	}
	fmt.Println("registered:", reg.Type, reg.AuthenticatorAttachment, reg.ClientExtensionResults["credProps"])

	signIn := credman.GetRequest{Origin: "https://login.example.com",
		RequestJSON: []byte(`{"challenge": "Y2hhbGxlbmdlLTI", "rpId": "example.com"}`)}
	entries, _ := cm.BeginGet(signIn) // nobody is asked yet
	fmt.Println("entries:", len(entries), entries[0].Username)

	signIn.CredentialID = entries[0].CredentialID // the entry the user tapped
	auth, err := cm.Get(ctx, signIn)
	if err != nil {
		panic(err)
	}
	fmt.Println("signed in as user", string(auth.Response.UserHandle))

	_, err = cm.Get(ctx, credman.GetRequest{Origin: "https://example.org", RequestJSON: signIn.RequestJSON})
	fmt.Println(errors.Is(err, credman.ErrRPIDMismatch), err)
	// Output:
	// registered: public-key platform map[rk:true]
	// entries: 1 alice
	// signed in as user user-1
	// true credman: rp_id_mismatch: rpId "example.com" is not "example.org" nor a registrable suffix of it
}
