package decode

import (
	"bytes"
	"encoding/base64"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// withKey replaces the credential public key of the spec's registration
// authData.
func withKey(t *testing.T, key map[int]any) []byte {
	reg, _ := specAuthData(t)
	k, err := cbor.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), reg[:87]...), k...)
}

func TestCOSEKeyWarnings(t *testing.T) {
	x, y := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, tc := range []struct {
		name string
		key  map[int]any
		want string
	}{
		{"no crv", map[int]any{1: 2, 3: -7, -2: x, -3: y}, "crv (label -1) is missing; an EC2 key must name its curve"},
		{"short x", map[int]any{1: 2, 3: -7, -1: 1, -2: x[1:], -3: y}, "x is 31 bytes, short of 32: coordinates must be left-padded with zeros"},
		{"off the curve", map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y}, "the point (x, y) is not on the P-256 curve"},
		{"no alg", map[int]any{1: 2, -1: 1, -2: x, -3: y}, "alg (label 3) is missing; relying parties need it to pick the signature algorithm"},
		{"unknown kty", map[int]any{1: 9, 3: -7}, "kty 9 is not OKP (1), EC2 (2) or RSA (3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustDecode(t, withKey(t, tc.key), KindAuthData)
			if w := r.AuthData.Attested.PublicKey.Warnings; !slices.Contains(w, tc.want) {
				t.Errorf("warnings %q lack %q", w, tc.want)
			}
		})
	}
}

func TestAuthDataWarnings(t *testing.T) {
	_, assertion := specAuthData(t)
	for _, tc := range []struct {
		name  string
		flags byte
		rpIDs []string
		want  string
	}{
		{"RFU bit", 0x03, nil, "reserved flag bit 1 (RFU) is set; it must be 0"},
		{"BS without BE", 0x11, nil, "BS (backed up) is set without BE (backup eligible), which is invalid (WebAuthn §6.1.3)"},
		{"no UP", 0x04, nil, "UP (user present) is not set; relying parties require it unless they asked for no user presence"},
		{"other rpId", 0x01, []string{"example.net"}, `rpIdHash is not the SHA-256 of "example.net"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(withFlags(assertion, tc.flags), Options{RPIDs: tc.rpIDs})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(r.AuthData.Warnings, tc.want) {
				t.Errorf("warnings %q lack %q", r.AuthData.Warnings, tc.want)
			}
		})
	}
}

func TestClientDataWarnings(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"type", `{"type":"webauthn.crate","challenge":"AAAAAAAAAAAAAAAAAAAAAA","origin":"https://a.example"}`, `type "webauthn.crate" is neither "webauthn.create" nor "webauthn.get"`},
		{"http origin", `{"type":"webauthn.get","challenge":"AAAAAAAAAAAAAAAAAAAAAA","origin":"http://example.com"}`, `origin "http://example.com" is not https (nor http://localhost): browsers do not offer WebAuthn there`},
		{"padded challenge", `{"type":"webauthn.get","challenge":"AAAAAAAAAAAAAAAAAAAAAA==","origin":"https://a.example"}`, "challenge is not unpadded base64url, as clientDataJSON must carry it"},
		{"short challenge", `{"type":"webauthn.get","challenge":"AAAA","origin":"https://a.example"}`, "challenge is 3 bytes; relying parties should use at least 16 random bytes (WebAuthn §13.4.3)"},
		{"topOrigin", `{"type":"webauthn.get","challenge":"AAAAAAAAAAAAAAAAAAAAAA","origin":"https://a.example","crossOrigin":false,"topOrigin":"https://b.example"}`, "topOrigin is set but crossOrigin is not true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustDecode(t, []byte(tc.in), KindClientData)
			if !slices.Contains(r.ClientData.Warnings, tc.want) {
				t.Errorf("warnings %q lack %q", r.ClientData.Warnings, tc.want)
			}
		})
	}
	r := mustDecode(t, []byte(`{"type":"webauthn.get","challenge":"aGVsbG8gd29ybGQsIDE2IGJ5dGVz","origin":"http://localhost:8080","androidPackageName":"com.example"}`), KindClientData)
	if cd := r.ClientData; len(cd.Warnings) != 0 || cd.ChallengeText != "hello world, 16 bytes" || cd.AndroidPackageName != "com.example" {
		t.Errorf("clientData = %+v", cd)
	}
}

// A signature written as raw r‖s instead of DER, the classic mistake of
// WebCrypto-based authenticators.
func TestRawSignatureWarning(t *testing.T) {
	_, assertion := specAuthData(t)
	resp := `{"id":"AA","type":"public-key","response":{"authenticatorData":"` + base64.RawURLEncoding.EncodeToString(assertion) +
		`","signature":"` + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64)) + `"}}`
	s := mustDecode(t, []byte(resp), KindAuthentication).Credential.Signature
	if s.Format != "raw r‖s" || len(s.Warnings) != 1 {
		t.Errorf("signature = %+v", s)
	}
}
