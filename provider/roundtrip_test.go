package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/provider"
)

// TestRoundTrip registers and signs in three times, checked by go-webauthn,
// for discoverable and non-discoverable credentials, with and without UV.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		rk   protocol.ResidentKeyRequirement
		uv   protocol.UserVerificationRequirement
	}{
		{"discoverable+uv", protocol.ResidentKeyRequirementRequired, protocol.VerificationRequired},
		{"discoverable+preferred", protocol.ResidentKeyRequirementPreferred, protocol.VerificationPreferred},
		{"non-discoverable+uv", protocol.ResidentKeyRequirementDiscouraged, protocol.VerificationRequired},
		{"non-discoverable+no-uv", protocol.ResidentKeyRequirementDiscouraged, protocol.VerificationDiscouraged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rp := testrp.New(t, rpID, origin)
			u := testrp.NewUser("alice")
			cred, err := rp.Register(u, f.createClient(t), webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
				ResidentKey: tc.rk, UserVerification: tc.uv}))
			if err != nil {
				t.Fatal(err)
			}
			wantUV := tc.uv != protocol.VerificationDiscouraged || tc.rk != protocol.ResidentKeyRequirementDiscouraged
			if cred.Flags.UserVerified != wantUV || !cred.Flags.UserPresent {
				t.Errorf("registration flags UP=%v UV=%v, want UP and UV=%v", cred.Flags.UserPresent, cred.Flags.UserVerified, wantUV)
			}
			if cred.Flags.BackupEligible || cred.Flags.BackupState {
				t.Errorf("a device-bound provider set BE/BS")
			}
			last := uint32(0)
			for i := range 3 {
				c, err := rp.Login(u, f.getClient(t), webauthn.WithUserVerification(tc.uv))
				if err != nil {
					t.Fatalf("login %d: %v", i, err)
				}
				if c.Authenticator.SignCount <= last {
					t.Fatalf("counter %d after %d", c.Authenticator.SignCount, last)
				}
				last = c.Authenticator.SignCount
				if c.Flags.UserVerified != (tc.uv != protocol.VerificationDiscouraged) {
					t.Errorf("login UV=%v with %s", c.Flags.UserVerified, tc.uv)
				}
			}
			if tc.rk == protocol.ResidentKeyRequirementRequired {
				who, _, err := rp.DiscoverableLogin([]*testrp.User{u}, f.getClient(t))
				if err != nil || who != u {
					t.Fatalf("discoverable login: %v, user %v", err, who)
				}
			}
			// Every operation asked the user exactly once.
			if got, want := f.mock.Calls(), 4+btoi(tc.rk == protocol.ResidentKeyRequirementRequired); got != want {
				t.Errorf("verifier asked %d times, want %d", got, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSyncedProfile: BE/BS set and the counter stays 0, as synced passkeys do.
func TestSyncedProfile(t *testing.T) {
	f := newFixture(t, func(c *provider.Config) { c.BackupEligible, c.BackupState, c.ZeroCounter = true, true, true })
	rp := testrp.New(t, rpID, origin)
	u := testrp.NewUser("bob")
	cred, err := rp.Register(u, f.createClient(t))
	if err != nil {
		t.Fatal(err)
	}
	if !cred.Flags.BackupEligible || !cred.Flags.BackupState {
		t.Fatalf("BE=%v BS=%v, want both", cred.Flags.BackupEligible, cred.Flags.BackupState)
	}
	for range 2 {
		c, err := rp.Login(u, f.getClient(t))
		if err != nil {
			t.Fatal(err)
		}
		if c.Authenticator.SignCount != 0 {
			t.Fatalf("counter %d, want 0", c.Authenticator.SignCount)
		}
	}
}

// TestExtensions covers credProps, prf (hmac-secret), credBlob, largeBlob
// (largeBlobKey), credProtect and minPinLength through WebAuthn JSON.
func TestExtensions(t *testing.T) {
	f := newFixture(t)
	create := func(ext string) *credman.RegistrationResponse {
		t.Helper()
		opts := `{"rp":{"id":"example.com","name":"Ex"},"user":{"id":"dXNlcjE","name":"u1","displayName":"U1"},
			"challenge":"Y2hhbGxlbmdl","pubKeyCredParams":[{"type":"public-key","alg":-7}],
			"authenticatorSelection":{"residentKey":"required","userVerification":"required"},"extensions":` + ext + `}`
		r, err := f.cm.Create(context.Background(), credman.CreateRequest{RequestJSON: []byte(opts), Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	get := func(id []byte, uv, ext string) (*credman.AuthenticationResponse, error) {
		opts, _ := json.Marshal(map[string]any{"challenge": "Y2hhbGxlbmdl", "rpId": rpID, "userVerification": uv,
			"allowCredentials": []map[string]any{{"type": "public-key", "id": credman.Bytes(id)}},
			"extensions":       json.RawMessage(ext)})
		return f.cm.Get(context.Background(), credman.GetRequest{RequestJSON: opts, Origin: origin})
	}

	r := create(`{"credProps":true,"prf":{},"largeBlob":{"support":"required"},"credBlob":"YmxvYg","minPinLength":true}`)
	if got := r.ClientExtensionResults["credProps"]; !jsonEq(got, `{"rk":true}`) {
		t.Errorf("credProps = %v", got)
	}
	if got := r.ClientExtensionResults["prf"]; !jsonEq(got, `{"enabled":true}`) {
		t.Errorf("prf = %v", got)
	}
	if got := r.ClientExtensionResults["largeBlob"]; !jsonEq(got, `{"supported":true}`) {
		t.Errorf("largeBlob = %v", got)
	}

	prf := func(input string) string {
		t.Helper()
		a, err := get(r.RawID, "required", `{"prf":{"eval":{"first":"`+input+`"}},"getCredBlob":true}`)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.ClientExtensionResults["getCredBlob"]; !jsonEq(got, `"YmxvYg"`) {
			t.Errorf("getCredBlob = %v", got)
		}
		b, _ := json.Marshal(a.ClientExtensionResults["prf"])
		return string(b)
	}
	one, again, other := prf("AAAA"), prf("AAAA"), prf("BBBB")
	if one != again || one == other || len(one) < 40 {
		t.Errorf("prf results not stable per input: %s %s %s", one, again, other)
	}

	// credProtect userVerificationRequired: invisible without UV, usable with it.
	r3 := create(`{"credentialProtectionPolicy":"userVerificationRequired"}`)
	if _, err := get(r3.RawID, "discouraged", `{}`); !errors.Is(err, credman.ErrNoCredentials) {
		t.Errorf("credProtect 3 without UV: %v, want no_credentials", err)
	}
	if _, err := get(r3.RawID, "required", `{}`); err != nil {
		t.Errorf("credProtect 3 with UV: %v", err)
	}
}

func jsonEq(v any, want string) bool {
	b, _ := json.Marshal(v)
	var x, y any
	json.Unmarshal(b, &x)
	json.Unmarshal([]byte(want), &y)
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}
