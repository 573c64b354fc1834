package credman_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/userverify"
)

// Requests a WebAuthn client refuses before any authenticator is involved:
// the user is not asked and nothing is stored.
func TestMalformedRequests(t *testing.T) {
	set := func(k string, v any) func(map[string]any) { return func(o map[string]any) { o[k] = v } }
	del := func(k string) func(map[string]any) { return func(o map[string]any) { delete(o, k) } }
	creates := []struct {
		name string
		opts []byte
		hash credman.Bytes
		code string
	}{
		{"no challenge", creationOptions(rpID, del("challenge")), nil, "missing_challenge"},
		{"empty challenge", creationOptions(rpID, set("challenge", "")), nil, "missing_challenge"},
		{"RS256 only", creationOptions(rpID, set("pubKeyCredParams", []any{map[string]any{"type": "public-key", "alg": -257}})), nil, "unsupported_algorithm"},
		{"EdDSA and RS256", creationOptions(rpID, set("pubKeyCredParams", []any{
			map[string]any{"type": "public-key", "alg": -8}, map[string]any{"type": "public-key", "alg": -257}})), nil, "unsupported_algorithm"},
		{"no user.id", creationOptions(rpID, set("user", map[string]any{"name": "alice"})), nil, "invalid_request"},
		{"user.id over 64 bytes", creationOptions(rpID, set("user", map[string]any{"id": credman.Bytes(make([]byte, 65)), "name": "a"})), nil, "invalid_request"},
		{"challenge not base64url", creationOptions(rpID, set("challenge", "not base64!")), nil, "invalid_request"},
		{"not JSON", []byte(`{"rp":`), nil, "invalid_request"},
		{"an array", []byte(`[1,2]`), nil, "invalid_request"},
		{"unknown credProtect policy", creationOptions(rpID, set("extensions", map[string]any{"credentialProtectionPolicy": "always"})), nil, "invalid_request"},
		{"short clientDataHash", creationOptions(rpID), make([]byte, 20), "invalid_request"},
	}
	for _, tc := range creates {
		t.Run("create/"+tc.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.cm.Create(context.Background(), credman.CreateRequest{Origin: origin, RequestJSON: tc.opts, ClientDataHash: tc.hash})
			wantCode(t, err, tc.code)
			if f.mock.Calls() != 0 {
				t.Error("the user was asked")
			}
			if n, _, _ := f.p.Stats(); n != 0 {
				t.Errorf("%d passkeys left behind", n)
			}
		})
	}
	gets := []struct {
		name string
		opts []byte
		code string
	}{
		{"no challenge", requestOptions(rpID, del("challenge")), "missing_challenge"},
		{"empty challenge", requestOptions(rpID, set("challenge", "")), "missing_challenge"},
		{"bad allowCredentials id", requestOptions(rpID, set("allowCredentials", []any{map[string]any{"type": "public-key", "id": 7}})), "invalid_request"},
	}
	for _, tc := range gets {
		t.Run("get/"+tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.register(t, "alice")
			_, err := f.cm.Get(context.Background(), credman.GetRequest{Origin: origin, RequestJSON: tc.opts})
			wantCode(t, err, tc.code)
			_, err = f.cm.BeginGet(credman.GetRequest{Origin: origin, RequestJSON: tc.opts})
			wantCode(t, err, tc.code)
			if f.mock.Calls() != 1 {
				t.Errorf("the user was asked %d times after registering, want none", f.mock.Calls()-1)
			}
		})
	}
}

// Without pubKeyCredParams the WebAuthn default list (ES256 and RS256)
// applies, and ES256 is used.
func TestDefaultPubKeyCredParams(t *testing.T) {
	f := newFixture(t)
	reg, err := f.cm.Create(context.Background(), credman.CreateRequest{Origin: origin,
		RequestJSON: creationOptions(rpID, func(o map[string]any) { delete(o, "pubKeyCredParams") })})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Response.PublicKeyAlgorithm != -7 {
		t.Errorf("publicKeyAlgorithm = %d, want -7", reg.Response.PublicKeyAlgorithm)
	}
}

// excludeCredentials: a passkey already stored here for the account is
// refused with InvalidStateError, after the user was asked (CTAP 2.1 §6.1.2
// step 12 reveals it only then); IDs from elsewhere do not matter.
func TestExcludeCredentials(t *testing.T) {
	f := newFixture(t)
	rp := testrp.New(t, rpID, origin)
	alice := testrp.NewUser("alice")
	if _, err := rp.Register(alice, f.creator(origin)); err != nil {
		t.Fatal(err)
	}
	asked := f.mock.Calls()
	_, err := rp.Register(alice, f.creator(origin), webauthn.WithExclusions(webauthn.Credentials(alice.Creds).CredentialDescriptors()))
	ce := wantCode(t, err, "credential_excluded")
	if ce.Name != "InvalidStateError" {
		t.Errorf("name = %s, want InvalidStateError", ce.Name)
	}
	if f.mock.Calls() != asked+1 {
		t.Errorf("the user was asked %d times, want once", f.mock.Calls()-asked)
	}
	if n, _, _ := f.p.Stats(); n != 1 {
		t.Errorf("%d passkeys stored, want 1", n)
	}

	// A foreign ID in excludeCredentials, or one of another RP, is no obstacle.
	other := f.register(t, "carol") // example.com; the request below is for other.example
	_, err = f.cm.Create(context.Background(), credman.CreateRequest{Origin: "https://other.example",
		RequestJSON: creationOptions("other.example", func(o map[string]any) {
			o["excludeCredentials"] = []any{
				map[string]any{"type": "public-key", "id": other.ID},
				map[string]any{"type": "public-key", "id": credman.Bytes("not-a-credential-here-000000")}}
		})})
	if err != nil {
		t.Fatalf("foreign excludeCredentials: %v", err)
	}
}

// allowCredentials decides which passkey may answer: a server-side
// (non-discoverable) passkey is found only through it, and a list of
// unknown IDs finds nothing.
func TestAllowCredentials(t *testing.T) {
	f := newFixture(t)
	rp := testrp.New(t, rpID, origin)
	alice := testrp.NewUser("alice")
	var reg map[string]any
	if _, err := rp.Register(alice, recorder(f.creator(origin), &reg), webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps())); err != nil {
		t.Fatal(err)
	}
	if rk := reg["clientExtensionResults"].(map[string]any)["credProps"]; rk.(map[string]any)["rk"] != false {
		t.Errorf("credProps = %v, want rk false for residentKey discouraged", rk)
	}
	if _, err := rp.Login(alice, f.getter(origin, nil)); err != nil {
		t.Fatalf("login with allowCredentials: %v", err)
	}
	_, _, err := rp.DiscoverableLogin([]*testrp.User{alice}, f.getter(origin, nil))
	wantCode(t, err, "no_credentials")

	unknown := requestOptions(rpID, func(o map[string]any) {
		o["allowCredentials"] = []any{map[string]any{"type": "public-key", "id": credman.Bytes("unknown-credential-id-0000000")}}
	})
	_, err = f.cm.Get(context.Background(), credman.GetRequest{Origin: origin, RequestJSON: unknown})
	if ce := wantCode(t, err, "no_credentials"); ce.Name != "NotAllowedError" {
		t.Errorf("name = %s, want NotAllowedError", ce.Name)
	}
	// Another RP's passkey is not usable here even when named.
	cred := alice.Creds[0].ID
	_, err = f.cm.Get(context.Background(), credman.GetRequest{Origin: "https://other.example",
		RequestJSON: requestOptions("other.example", func(o map[string]any) {
			o["allowCredentials"] = []any{map[string]any{"type": "public-key", "id": credman.Bytes(cred)}}
		})})
	wantCode(t, err, "no_credentials")
}

// userVerification and residentKey are honoured: the UV flag is set when
// the user was verified, and only user presence is collected when the RP
// discourages verification of a server-side passkey.
func TestUserVerificationAndResidentKey(t *testing.T) {
	sel := func(rk protocol.ResidentKeyRequirement, uv protocol.UserVerificationRequirement) webauthn.RegistrationOption {
		return webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: rk, UserVerification: uv})
	}
	for _, tc := range []struct {
		name           string
		rk             protocol.ResidentKeyRequirement
		uv, loginUV    protocol.UserVerificationRequirement
		wantRK, regUV  bool
		loginUVFlagSet bool
	}{
		{"required/required", protocol.ResidentKeyRequirementRequired, protocol.VerificationRequired, protocol.VerificationRequired, true, true, true},
		{"preferred/preferred", protocol.ResidentKeyRequirementPreferred, protocol.VerificationPreferred, protocol.VerificationPreferred, true, true, true},
		{"discouraged/discouraged", protocol.ResidentKeyRequirementDiscouraged, protocol.VerificationDiscouraged, protocol.VerificationDiscouraged, false, false, false},
		// A discoverable passkey is always verified when made (CTAP 2.1 §6.1.2 step 11).
		{"required/discouraged", protocol.ResidentKeyRequirementRequired, protocol.VerificationDiscouraged, protocol.VerificationDiscouraged, true, true, false},
		{"discouraged/required", protocol.ResidentKeyRequirementDiscouraged, protocol.VerificationRequired, protocol.VerificationRequired, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rp := testrp.New(t, rpID, origin)
			u := testrp.NewUser("alice")
			var reg, auth map[string]any
			cred, err := rp.Register(u, recorder(f.creator(origin), &reg), sel(tc.rk, tc.uv), webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
			if err != nil {
				t.Fatal(err)
			}
			if cred.Extensions.RK == nil || *cred.Extensions.RK != tc.wantRK {
				t.Errorf("credProps.rk = %v, want %v", cred.Extensions.RK, tc.wantRK)
			}
			if cred.Flags.UserVerified != tc.regUV || !cred.Flags.UserPresent {
				t.Errorf("registration flags = %+v, want UP and UV=%v", cred.Flags, tc.regUV)
			}
			if _, err := rp.Login(u, recorder(f.getter(origin, nil), &auth), webauthn.WithUserVerification(tc.loginUV)); err != nil {
				t.Fatal(err)
			}
			ad, err := ctap.ParseAuthData(mustB64(t, auth["response"].(map[string]any)["authenticatorData"]))
			if err != nil {
				t.Fatal(err)
			}
			if got := ad.Flags&ctap.FlagUV != 0; got != tc.loginUVFlagSet || ad.Flags&ctap.FlagUP == 0 {
				t.Errorf("sign-in flags = %v, want UP and UV=%v", ad.Flags, tc.loginUVFlagSet)
			}
			if f.mock.Calls() != 2 {
				t.Errorf("the user was asked %d times, want once per ceremony", f.mock.Calls())
			}
		})
	}
}

func mustB64(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := credman.DecodeBase64(s)
	if err != nil || s == "" {
		t.Fatalf("not base64url: %v", v)
	}
	return b
}

// What the user answers maps to a code and a DOMException name, and a
// refused registration leaves nothing behind.
func TestUserAnswers(t *testing.T) {
	for _, tc := range []struct {
		answer     error
		code, name string
	}{
		{userverify.ErrDenied, "not_allowed", "NotAllowedError"},
		{userverify.ErrUnavailable, "not_allowed", "NotAllowedError"},
		{userverify.ErrTimeout, "timeout", "NotAllowedError"},
		{userverify.ErrCancelled, "cancelled", "AbortError"},
		{userverify.ErrLockedOut, "locked_out", "NotAllowedError"},
	} {
		t.Run(tc.code+"/"+tc.answer.Error(), func(t *testing.T) {
			f := newFixture(t)
			f.mock.Push(tc.answer)
			_, err := f.cm.Create(context.Background(), credman.CreateRequest{Origin: origin, RequestJSON: creationOptions(rpID)})
			if ce := wantCode(t, err, tc.code); ce.Name != tc.name {
				t.Errorf("name = %s, want %s", ce.Name, tc.name)
			}
			if n, _, _ := f.p.Stats(); n != 0 {
				t.Errorf("%d passkeys left behind", n)
			}
			f.register(t, "alice")
			f.mock.Push(tc.answer)
			_, err = f.cm.Get(context.Background(), credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID)})
			wantCode(t, err, tc.code)
		})
	}
}

// A user who does not answer within options.timeout gets the timeout code.
// Like Chromium, credman raises a timeout below 10 s to 10 s, so this test
// waits that long; it runs in parallel with the rest.
func TestTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits credman.MinTimeout")
	}
	t.Parallel()
	f := newFixture(t)
	f.register(t, "alice")
	f.mock.SetDelay(credman.MinTimeout + 20*time.Second) // far beyond the timeout
	start := time.Now()
	_, err := f.cm.Create(context.Background(), credman.CreateRequest{Origin: origin,
		RequestJSON: creationOptions(rpID, func(o map[string]any) { o["timeout"] = 1000 })})
	elapsed := time.Since(start)
	if ce := wantCode(t, err, "timeout"); ce.Name != "NotAllowedError" {
		t.Errorf("name = %s, want NotAllowedError", ce.Name)
	}
	if elapsed < credman.MinTimeout || elapsed > credman.MinTimeout+5*time.Second {
		t.Errorf("timed out after %v, want about %v (the clamped options.timeout)", elapsed, credman.MinTimeout)
	}
	if n, _, _ := f.p.Stats(); n != 1 {
		t.Errorf("%d passkeys stored, want only alice's", n)
	}

	// The caller's own deadline ends a sign-in early, with the same code.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = f.cm.Get(ctx, credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID, func(o map[string]any) { o["timeout"] = 60000 })})
	wantCode(t, err, "timeout")
}

// A cancelled caller (a closed api.sock connection) ends the request as AbortError.
func TestCallerCancels(t *testing.T) {
	f := newFixture(t)
	f.mock.SetDelay(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := f.cm.Create(ctx, credman.CreateRequest{Origin: origin, RequestJSON: creationOptions(rpID)})
	if ce := wantCode(t, err, "cancelled"); ce.Name != "AbortError" {
		t.Errorf("name = %s, want AbortError", ce.Name)
	}
}

// A disabled provider, like an additional provider switched off on Android,
// answers every phase with provider_disabled and asks nobody; switched on
// again, it works.
func TestProviderDisabled(t *testing.T) {
	f := newFixture(t)
	alice := f.register(t, "alice")
	asked := f.mock.Calls()
	if err := f.p.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	create := credman.CreateRequest{Origin: origin, RequestJSON: creationOptions(rpID)}
	get := credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID)}
	for name, call := range map[string]func() error{
		"create":       func() error { _, err := f.cm.Create(ctx, create); return err },
		"get":          func() error { _, err := f.cm.Get(ctx, get); return err },
		"begin-create": func() error { _, err := f.cm.BeginCreate(create); return err },
		"begin-get":    func() error { _, err := f.cm.BeginGet(get); return err },
		"get chosen": func() error {
			_, err := f.cm.Get(ctx, credman.GetRequest{Origin: origin, RequestJSON: requestOptions(rpID), CredentialID: alice.RawID})
			return err
		},
	} {
		err := call()
		ce := wantCode(t, err, "provider_disabled")
		if ce.Name != "NotAllowedError" || !errors.Is(err, credman.ErrProviderDisabled) {
			t.Errorf("%s: %+v, want NotAllowedError matching ErrProviderDisabled", name, ce)
		}
	}
	if f.mock.Calls() != asked {
		t.Errorf("a disabled provider asked the user %d times", f.mock.Calls()-asked)
	}
	if err := f.p.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cm.Get(ctx, get); err != nil {
		t.Errorf("after enabling: %v", err)
	}
}
