package credman_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/internal/testrp"
)

// recorder keeps the last response a client returned, to look at what
// go-webauthn does not report.
func recorder(c testrp.Client, last *map[string]any) testrp.Client {
	return func(opts []byte) ([]byte, error) {
		out, err := c(opts)
		if err == nil {
			*last = map[string]any{}
			if jerr := json.Unmarshal(out, last); jerr != nil {
				return nil, jerr
			}
		}
		return out, err
	}
}

// go-webauthn, an independent relying party, verifies a registration and
// the sign-ins that follow, with and without naming the user.
func TestRoundTripVerifiedByGoWebAuthn(t *testing.T) {
	f := newFixture(t)
	rp := testrp.New(t, rpID, origin)
	alice := testrp.NewUser("alice")

	var reg map[string]any
	cred, err := rp.Register(alice, recorder(f.creator(origin), &reg),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		t.Fatal(err)
	}
	if !cred.Flags.UserPresent || !cred.Flags.UserVerified {
		t.Errorf("registration flags = %+v, want UP and UV", cred.Flags)
	}
	if cred.Authenticator.Attachment != protocol.Platform {
		t.Errorf("authenticatorAttachment = %q, want platform", cred.Authenticator.Attachment)
	}
	if !slices.Contains(cred.Transport, protocol.Internal) {
		t.Errorf("transports = %v, want internal among them", cred.Transport)
	}
	if cred.Extensions.RK == nil || !*cred.Extensions.RK {
		t.Errorf("credProps.rk = %v, want true", cred.Extensions.RK)
	}
	resp := reg["response"].(map[string]any)
	for _, member := range []string{"clientDataJSON", "attestationObject", "authenticatorData", "publicKey"} {
		if s, _ := resp[member].(string); s == "" {
			t.Errorf("response.%s is missing: %v", member, resp)
		}
	}
	if resp["publicKeyAlgorithm"] != float64(-7) {
		t.Errorf("response.publicKeyAlgorithm = %v, want -7", resp["publicKeyAlgorithm"])
	}
	if reg["id"] != base64.RawURLEncoding.EncodeToString(cred.ID) {
		t.Errorf("id = %v, want the base64url of rawId", reg["id"])
	}

	if _, err := rp.Login(alice, f.getter(origin, nil), webauthn.WithUserVerification(protocol.VerificationRequired)); err != nil {
		t.Fatalf("login with allowCredentials: %v", err)
	}
	who, got, err := rp.DiscoverableLogin([]*testrp.User{alice}, f.getter(origin, nil))
	if err != nil {
		t.Fatalf("discoverable login: %v", err)
	}
	if who != alice || got.Authenticator.SignCount != 2 {
		t.Errorf("discoverable login: user %v counter %d, want alice and 2", who, got.Authenticator.SignCount)
	}
	if n := f.mock.Calls(); n != 3 {
		t.Errorf("the user was asked %d times, want once per ceremony (3)", n)
	}
}

// The requestJson member is taken as a JSON object, as a string holding one
// (Android's API passes a string), and wrapped as {"publicKey": …}.
func TestRequestJSONShapes(t *testing.T) {
	opts := string(creationOptions(rpID))
	for name, body := range map[string]string{
		"object":         `{"origin":"` + origin + `","requestJson":` + opts + `}`,
		"string":         `{"origin":"` + origin + `","requestJson":` + string(mustJSON(opts)) + `}`,
		"wrapped object": `{"origin":"` + origin + `","requestJson":{"publicKey":` + opts + `}}`,
		"wrapped string": `{"origin":"` + origin + `","requestJson":` + string(mustJSON(`{"publicKey":`+opts+`}`)) + `}`,
		"with mediation": `{"origin":"` + origin + `","requestJson":{"mediation":"conditional","publicKey":` + opts + `}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			var req credman.CreateRequest
			if err := json.Unmarshal([]byte(body), &req); err != nil {
				t.Fatal(err)
			}
			if _, err := f.cm.Create(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The begin phase lists entries without asking the user; completing it with
// the chosen entry asks once and signs in as that account.
func TestBeginThenComplete(t *testing.T) {
	f := newFixture(t)
	rp := testrp.New(t, rpID, origin)
	users := []*testrp.User{testrp.NewUser("alice"), testrp.NewUser("bob")}
	for _, u := range users {
		if _, err := rp.Register(u, f.creator(origin), webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)); err != nil {
			t.Fatal(err)
		}
	}
	other := testrp.New(t, "other.example", "https://other.example")
	if _, err := other.Register(testrp.NewUser("carol"), f.creator("https://other.example")); err != nil {
		t.Fatal(err)
	}
	asked := f.mock.Calls()

	creates, err := f.cm.BeginCreate(credman.CreateRequest{Origin: origin, RequestJSON: creationOptions(rpID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(creates) != 1 || creates[0].PublicKeyCredentialCount != 2 || creates[0].TotalCredentialCount != 3 || creates[0].AccountName == "" {
		t.Errorf("create entries = %+v, want one with 2 passkeys for %s of 3", creates, rpID)
	}

	entries, err := f.cm.BeginGet(credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID)})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Username)
	}
	if !slices.Equal(names, []string{"bob", "alice"}) {
		t.Fatalf("credential entries = %v, want bob then alice (newest first)", names)
	}
	if entries[1].Created == 0 || string(entries[1].UserHandle) != string(users[0].ID) {
		t.Errorf("alice's entry = %+v, want her user handle and a creation time", entries[1])
	}
	if n := f.mock.Calls(); n != asked {
		t.Fatalf("the begin phase asked the user %d times, want none", n-asked)
	}

	who, _, err := rp.DiscoverableLogin(users, f.getter(origin, entries[1].CredentialID))
	if err != nil {
		t.Fatal(err)
	}
	if who != users[0] {
		t.Errorf("signed in as %v, want alice, the chosen entry", who.Name)
	}
	if n := f.mock.Calls(); n != asked+1 {
		t.Errorf("completing asked the user %d times, want once", n-asked)
	}

	// Without a choice, the newest passkey answers, as a one-tap chooser would.
	who, _, err = rp.DiscoverableLogin(users, f.getter(origin, nil))
	if err != nil || who != users[1] {
		t.Errorf("sign-in without a choice: %v, %v; want bob", who, err)
	}

	entries, err = f.cm.BeginGet(credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID)})
	if err != nil || entries[0].LastUsedTime == 0 || entries[1].LastUsedTime == 0 {
		t.Errorf("after use, entries = %+v, %v; want lastUsedTime set", entries, err)
	}
}

// BeginGet honours allowCredentials, and completing with an entry that is
// not allowed, or not stored, is refused.
func TestBeginGetAllowCredentials(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.register(t, "alice"), f.register(t, "bob")
	onlyAlice := requestOptions(rpID, func(o map[string]any) {
		o["allowCredentials"] = []any{map[string]any{"type": "public-key", "id": alice.ID}}
	})
	entries, err := f.cm.BeginGet(credman.GetRequest{Origin: origin, RequestJSON: onlyAlice})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Username != "alice" {
		t.Fatalf("entries = %+v, want alice only", entries)
	}
	_, err = f.cm.Get(context.Background(), credman.GetRequest{Origin: origin, RequestJSON: onlyAlice, CredentialID: bob.RawID})
	wantCode(t, err, "unknown_entry")
	_, err = f.cm.Get(context.Background(), credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID),
		CredentialID: []byte("no-such-credential-0123456789")})
	wantCode(t, err, "no_credentials")

	empty, err := f.cm.BeginGet(credman.GetRequest{Origin: "https://other.example", RequestJSON: requestOptions("other.example")})
	if err != nil || len(empty) != 0 {
		t.Errorf("another RP's entries = %+v, %v; want none", empty, err)
	}
}
