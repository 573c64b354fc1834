package decode

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/credman"
	"github.com/passkeyd/passkeyd/keystore"
	"github.com/passkeyd/passkeyd/provider"
	"github.com/passkeyd/passkeyd/userverify"
)

// newService is a provider over a memory store with a mock verifier that
// approves, behind the Credential Manager front door.
func newService(t *testing.T, att attestation.Attester) *credman.Service {
	t.Helper()
	p, err := provider.New(provider.Config{Store: keystore.NewMemory(), Sealer: keystore.NewMemorySealer(),
		Verifier: userverify.NewMock(), Attester: att})
	if err != nil {
		t.Fatal(err)
	}
	return credman.New(p)
}

const (
	testOrigin     = "https://login.example.com"
	regChallenge   = "registration challenge, 32 bytes"
	loginChallenge = "sign-in challenge, also 32 bytes"
)

func createOptions(attestationPref string) string {
	return `{"rp":{"id":"example.com","name":"Example"},
		"user":{"id":"` + b64([]byte("user-42")) + `","name":"alice@example.com","displayName":"Alice"},
		"challenge":"` + b64([]byte(regChallenge)) + `",
		"pubKeyCredParams":[{"type":"public-key","alg":-7}],
		"authenticatorSelection":{"residentKey":"required","userVerification":"required"},
		"attestation":"` + attestationPref + `"}`
}

func register(t *testing.T, s *credman.Service, pref string) []byte {
	t.Helper()
	resp, err := s.Create(context.Background(), credman.CreateRequest{
		RequestJSON: credman.RequestJSON(createOptions(pref)), Origin: testOrigin})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signIn(t *testing.T, s *credman.Service) []byte {
	t.Helper()
	opts := `{"rpId":"example.com","challenge":"` + b64([]byte(loginChallenge)) + `","userVerification":"required"}`
	resp, err := s.Get(context.Background(), credman.GetRequest{RequestJSON: credman.RequestJSON(opts), Origin: testOrigin})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPasskeydRegistration(t *testing.T) {
	ca, err := attestation.InitCA(t.TempDir(), attestation.DefaultAAGUID, attestation.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, pref, fmt, typ string
		att                  attestation.Attester
		x5c                  int
	}{
		{"packed self", "direct", "packed", "self", nil, 0},
		{"packed basic", "direct", "packed", "basic or AttCA (x5c)", &attestation.PackedBasic{CA: ca}, 1},
		{"android-key", "direct", "android-key", "basic or AttCA (x5c)", &attestation.AndroidKey{CA: ca}, 2},
		{"none asked", "none", "none", "none", &attestation.PackedBasic{CA: ca}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustDecode(t, register(t, newService(t, tc.att), tc.pref), KindRegistration)
			checkPasskeydClientData(t, r.ClientData, "webauthn.create", regChallenge)
			att := r.Attestation
			if att.Fmt != tc.fmt || att.Statement.Type != tc.typ || len(att.Statement.X5C) != tc.x5c {
				t.Errorf("fmt %s, type %q, %d certificates", att.Fmt, att.Statement.Type, len(att.Statement.X5C))
			}
			checkPasskeydAuthData(t, att.AuthData, "UP|UV|AT", 0)
			checkPasskeydCredential(t, r, att.AuthData.Attested)
			checkPasskeydCertificates(t, att, tc.fmt)
			if len(att.Warnings) != 0 || len(r.Credential.Warnings) != 0 || len(r.ClientData.Warnings) != 0 {
				t.Errorf("warnings: %q %q %q", att.Warnings, r.Credential.Warnings, r.ClientData.Warnings)
			}
		})
	}
}

func checkPasskeydClientData(t *testing.T, cd *ClientData, typ, challenge string) {
	t.Helper()
	if cd.Type != typ || cd.Origin != testOrigin || cd.CrossOrigin == nil || *cd.CrossOrigin ||
		cd.ChallengeText != challenge || cd.ChallengeLength != 32 {
		t.Errorf("clientDataJSON = %+v", cd)
	}
}

// checkPasskeydAuthData: the rpIdHash is named through the origin's parent
// domain, UV is set because the options required it.
func checkPasskeydAuthData(t *testing.T, ad *AuthData, flags string, counter uint32) {
	t.Helper()
	if ad.RPID != "example.com" || ad.Flags.String() != flags || ad.SignCount != counter || len(ad.Warnings) != 0 {
		t.Errorf("rpId %q, flags %s, signCount %d, warnings %q; want example.com, %s, %d", ad.RPID, ad.Flags, ad.SignCount, ad.Warnings, flags, counter)
	}
}

func checkPasskeydCredential(t *testing.T, r *Result, at *AttestedCredential) {
	t.Helper()
	if at.AAGUIDName != "passkeyd" || at.AAGUID != "fe686bbe-74c2-47b4-b54f-3b920e332581" {
		t.Errorf("AAGUID %s (%q)", at.AAGUID, at.AAGUIDName)
	}
	if r.Credential.ID != b64(at.CredentialID) || at.CredentialIDLength < 16 {
		t.Errorf("id %s, credential ID %s (%d bytes)", r.Credential.ID, b64(at.CredentialID), at.CredentialIDLength)
	}
	checkES256Key(t, at.PublicKey)
	if r.Credential.PublicKeyAlgorithm == nil || *r.Credential.PublicKeyAlgorithm != -7 || r.Credential.PublicKeyLength != 91 {
		t.Errorf("publicKeyAlgorithm %v, publicKey %d bytes", r.Credential.PublicKeyAlgorithm, r.Credential.PublicKeyLength)
	}
}

// checkPasskeydCertificates: the packed certificate carries passkeyd's
// AAGUID, the android-key leaf the clientDataHash as its challenge.
func checkPasskeydCertificates(t *testing.T, att *Attestation, format string) {
	t.Helper()
	for _, c := range att.Statement.X5C {
		if c.Error != "" {
			t.Errorf("x5c[%d]: %s", c.Index, c.Error)
		}
	}
	switch format {
	case "packed":
		if x := att.Statement.X5C; len(x) > 0 && (x[0].AAGUIDMatchesAuthData == nil || !*x[0].AAGUIDMatchesAuthData) {
			t.Errorf("leaf AAGUID %q does not match authData", x[0].AAGUID)
		}
	case "android-key":
		k := att.Statement.X5C[0].AndroidKey
		if k == nil || k.ChallengeMatches == nil || !*k.ChallengeMatches || k.SecurityLevel != "TrustedEnvironment" || k.AttestationVersion != 300 {
			t.Errorf("android key description = %+v", k)
		}
	}
}

// Signing in twice: the counter goes up, UV is set, the user handle is the
// user.id registered, and the signature is DER.
func TestPasskeydAuthentication(t *testing.T) {
	s := newService(t, nil)
	register(t, s, "none")
	for i := uint32(1); i <= 2; i++ {
		t.Run("sign-in "+strconv.Itoa(int(i)), func(t *testing.T) {
			r := mustDecode(t, signIn(t, s), KindAuthentication)
			checkPasskeydClientData(t, r.ClientData, "webauthn.get", loginChallenge)
			checkPasskeydAuthData(t, r.AuthData, "UP|UV", i)
			c := r.Credential
			if c.UserHandleText != "user-42" || c.Signature.Format != "DER ECDSA" || len(c.Warnings) != 0 {
				t.Errorf("userHandle %q, signature %+v, warnings %q", c.UserHandleText, c.Signature, c.Warnings)
			}
		})
	}
}

// The same response, the ways it reaches a developer: api.sock's wrapper
// (object or Android string), base64 of the JSON, a JSON string.
func TestPasskeydWrappings(t *testing.T) {
	resp := register(t, newService(t, nil), "none")
	str, _ := json.Marshal(string(resp))
	for _, tc := range []struct{ name, in, encoding string }{
		{"bare", string(resp), "JSON"},
		{"api.sock", `{"registrationResponseJson":` + string(resp) + `}`, "JSON"},
		{"android string", `{"registrationResponseJson":` + string(str) + `}`, "JSON"},
		{"JSON string", string(str), "JSON in JSON string"},
		{"base64", base64.StdEncoding.EncodeToString(append(resp, ' ')) + "\n", "JSON in base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustDecode(t, []byte(tc.in), KindRegistration)
			if !strings.HasPrefix(r.Encoding, tc.encoding) || r.Attestation.AuthData.RPID != "example.com" {
				t.Errorf("encoding %q, rpId %q", r.Encoding, r.Attestation.AuthData.RPID)
			}
		})
	}
}
