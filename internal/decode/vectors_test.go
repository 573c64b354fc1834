package decode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// specVectors are the WebAuthn Level 3 §16 test vectors in testdata (see
// testdata/README.md).
type specVectors struct {
	RPID              string `json:"rpId"`
	Origin            string `json:"origin"`
	AttestationCACert string `json:"attestationCACert"`
	Vectors           []struct {
		Name         string
		Section      string
		Registration struct {
			Challenge, CredentialID, ClientDataJSON, AttestationObject string
		}
		Authentication struct {
			Challenge, AuthenticatorData, ClientDataJSON, Signature string
		}
	}
}

func loadSpecVectors(t testing.TB) specVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/webauthn-l3-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v specVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// What the spec's vectors say, read off the bytes by hand: flags byte,
// AAGUID, fmt, attStmt alg, x5c length, and the assertion's flags.
var specExpect = map[string]struct {
	regFlags, authFlags string
	aaguid, fmt         string
	alg                 *int
	x5c                 int
	attType             string
}{
	"none.ES256":        {"UP|BE|BS|AT", "UP|BE|BS", "8446ccb9-ab1d-b374-750b-2367ff6f3a1f", "none", nil, 0, "none"},
	"packed-self.ES256": {"UP|UV|BE|BS|AT", "UP|BE", "df850e09-db6a-fbdf-ab51-697791506cfc", "packed", ptr(-7), 0, "self"},
	"packed.ES256":      {"UP|UV|BE|AT", "UP|UV|BE", "876ca4f5-2071-c3e9-b255-09ef2cdf7ed6", "packed", ptr(-7), 1, "basic or AttCA (x5c)"},
}

func ptr(n int) *int { return &n }

func TestSpecVectorsRegistration(t *testing.T) {
	v := loadSpecVectors(t)
	for _, vec := range v.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			want := specExpect[vec.Name]
			reg := vec.Registration
			att := mustDecode(t, []byte(b64(unhex(t, reg.AttestationObject))), KindAttestation).Attestation
			if att.Fmt != want.fmt {
				t.Errorf("fmt = %q, want %q", att.Fmt, want.fmt)
			}
			checkSpecAuthData(t, att.AuthData, v.RPID, want.regFlags)
			at := att.AuthData.Attested
			if at == nil {
				t.Fatal("no attested credential data")
			}
			if at.AAGUID != want.aaguid || hex.EncodeToString(at.CredentialID) != reg.CredentialID || at.CredentialIDLength != 32 {
				t.Errorf("AAGUID %s, credential ID %x (%d)", at.AAGUID, at.CredentialID, at.CredentialIDLength)
			}
			checkES256Key(t, at.PublicKey)
			checkStatement(t, att, want.alg, want.x5c, want.attType)
			if len(att.Warnings) != 0 {
				t.Errorf("warnings: %q", att.Warnings)
			}
		})
	}
}

func checkSpecAuthData(t *testing.T, ad *AuthData, rpID, flags string) {
	t.Helper()
	if ad.RPID != rpID || ad.RPIDHash != "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b5" {
		t.Errorf("rpIdHash %s matched %q, want %q", ad.RPIDHash, ad.RPID, rpID)
	}
	if ad.Flags.String() != flags || ad.SignCount != 0 {
		t.Errorf("flags %s counter %d, want %s and 0", ad.Flags, ad.SignCount, flags)
	}
}

func checkES256Key(t *testing.T, k *COSEKey) {
	t.Helper()
	if k.Kty != 2 || k.Alg == nil || *k.Alg != -7 || k.Crv == nil || *k.Crv != 1 || len(k.X) != 32 || len(k.Y) != 32 {
		t.Errorf("key = %+v, want EC2 ES256 P-256 with 32-byte coordinates", k)
	}
	if k.AlgName != "ES256" || k.CrvName != "P-256" || len(k.Warnings) != 0 {
		t.Errorf("key names %s %s, warnings %q", k.AlgName, k.CrvName, k.Warnings)
	}
}

func checkStatement(t *testing.T, att *Attestation, alg *int, x5c int, typ string) {
	t.Helper()
	s := att.Statement
	if (alg == nil) != (s.Alg == nil) || (alg != nil && *alg != *s.Alg) {
		t.Errorf("alg = %v, want %v", s.Alg, alg)
	}
	if len(s.X5C) != x5c || s.Type != typ {
		t.Errorf("x5c has %d certificates and type %q, want %d and %q", len(s.X5C), s.Type, x5c, typ)
	}
	if alg != nil && (s.Sig == nil || s.Sig.Format != "DER ECDSA" || s.Sig.R == "" || s.Sig.S == "") {
		t.Errorf("sig = %+v, want DER ECDSA", s.Sig)
	}
}

// The one vector with a certificate: the leaf the spec issues under its
// attestation CA.
func TestSpecVectorPackedCertificate(t *testing.T) {
	v := loadSpecVectors(t)
	att := mustDecode(t, []byte(v.Vectors[2].Registration.AttestationObject), KindAttestation).Attestation
	c := att.Statement.X5C[0]
	if c.Error != "" {
		t.Fatal(c.Error)
	}
	if c.Subject != "CN=WebAuthn test vectors,OU=Authenticator Attestation,O=W3C,C=AA" ||
		c.Issuer != "CN=WebAuthn test vectors,OU=Authenticator Attestation CA,O=W3C,C=AA" {
		t.Errorf("subject %q issuer %q", c.Subject, c.Issuer)
	}
	if c.BasicConstraints != "not a CA" || c.NotBefore.Year() != 2024 || c.NotAfter.Year() != 3024 {
		t.Errorf("constraints %q, validity %v – %v", c.BasicConstraints, c.NotBefore, c.NotAfter)
	}
	if c.Serial != "88c220f83c8ef1feafe94deae45faad0" || c.AAGUID != "" {
		t.Errorf("serial %s, AAGUID extension %q", c.Serial, c.AAGUID)
	}
}

// Assertions: flags, counter and signature shape; the signature is then
// verified with the key the registration decoded, which pins both the
// vectors' bytes and the key extraction.
func TestSpecVectorsAuthentication(t *testing.T) {
	v := loadSpecVectors(t)
	for _, vec := range v.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			a := vec.Authentication
			resp := specResponse(t, vec.Registration.CredentialID, map[string]string{
				"authenticatorData": a.AuthenticatorData, "clientDataJSON": a.ClientDataJSON, "signature": a.Signature})
			r := mustDecode(t, resp, KindAuthentication)
			checkSpecAuthData(t, r.AuthData, v.RPID, specExpect[vec.Name].authFlags)
			if r.ClientData.Type != "webauthn.get" || r.ClientData.Origin != v.Origin || r.ClientData.ChallengeLength != 32 {
				t.Errorf("clientData = %+v", r.ClientData)
			}
			if got, _ := base64.RawURLEncoding.DecodeString(r.ClientData.Challenge); hex.EncodeToString(got) != a.Challenge {
				t.Errorf("challenge %s, want %s", r.ClientData.Challenge, a.Challenge)
			}
			if s := r.Credential.Signature; s.Format != "DER ECDSA" || s.Length != len(a.Signature)/2 {
				t.Errorf("signature = %+v", s)
			}
			key := mustDecode(t, []byte(vec.Registration.AttestationObject), KindAttestation).Attestation.AuthData.Attested.PublicKey
			verifySpecSignature(t, key, unhex(t, a.AuthenticatorData), unhex(t, a.ClientDataJSON), unhex(t, a.Signature))
		})
	}
}

// specResponse builds AuthenticationResponseJSON from hex parts, as a
// browser would send the vector.
func specResponse(t *testing.T, credID string, parts map[string]string) []byte {
	resp := map[string]string{}
	for k, h := range parts {
		resp[k] = b64(unhex(t, h))
	}
	id := b64(unhex(t, credID))
	b, err := json.Marshal(map[string]any{"id": id, "rawId": id, "type": "public-key", "response": resp})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verifySpecSignature(t *testing.T, k *COSEKey, authData, cdj, sig []byte) {
	t.Helper()
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, k.X...), k.Y...))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(cdj)
	msg := sha256.Sum256(append(append([]byte(nil), authData...), h[:]...))
	if !ecdsa.VerifyASN1(pub, msg[:], sig) {
		t.Error("the assertion signature does not verify with the registered key")
	}
}

func mustDecode(t *testing.T, in []byte, kind Kind) *Result {
	t.Helper()
	r, err := Decode(in, Options{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if r.Kind != kind {
		t.Fatalf("kind = %s, want %s", r.Kind, kind)
	}
	return r
}
