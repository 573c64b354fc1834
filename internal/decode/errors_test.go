package decode

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The spec's packed ES256 registration authData, and its assertion's.
func specAuthData(t *testing.T) (reg, assertion []byte) {
	v := loadSpecVectors(t)
	att := mustDecode(t, []byte(v.Vectors[2].Registration.AttestationObject), KindAttestation).Attestation
	return att.AuthData.raw, unhex(t, v.Vectors[2].Authentication.AuthenticatorData)
}

func withFlags(b []byte, flags byte) []byte {
	c := append([]byte(nil), b...)
	c[32] = flags
	return c
}

func TestDecodeErrors(t *testing.T) {
	reg, assertion := specAuthData(t)
	h := func(b []byte) string { return hex.EncodeToString(b) }
	u := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	for _, tc := range []struct{ name, in, want string }{
		{"short", u(reg[:36]), "authenticatorData: 36 bytes, shorter than the 37 of rpIdHash, flags and signCount"},
		{"AT without AAGUID", u(reg[:50]), "authenticatorData: AT flag set but attested credential data is truncated at byte 50 (AAGUID and credentialIdLength need bytes 37–54)"},
		{"AT without credential ID", h(reg[:55]), "authenticatorData: AT flag set but attested credential data is truncated at byte 55: credentialIdLength 32 needs bytes 55–86"},
		{"AT without key", h(reg[:87]), "authenticatorData: AT flag set but the credential public key is missing at byte 87"},
		{"AT with half a key", h(reg[:120]), "authenticatorData: credential public key at byte 87 is truncated at byte 120"},
		{"trailing byte", h(append(append([]byte(nil), assertion...), 0)), "authenticatorData: 1 unexpected byte at byte 37: the flags (UP|UV|BE) announce nothing more; is the AT or ED flag missing?"},
		{"AT flag lost", h(withFlags(reg, 0x0d)), "authenticatorData: 127 unexpected bytes at byte 37: the flags (UP|UV|BE) announce nothing more; is the AT or ED flag missing?"},
		{"extensions cut", h(append(withFlags(assertion, 0x85), 0xa1, 0x6b)), "authenticatorData: extensions at byte 37 are truncated at byte 39"},
		{"ED without extensions", h(withFlags(assertion, 0x8d)), "authenticatorData: ED flag set but the extensions are missing at byte 37"},
		{"extensions not a map", h(append(withFlags(assertion, 0x8d), 0x01)), "authenticatorData: extensions at byte 37: not a map with text keys: invalid CBOR: cannot unmarshal positive integer into Go value of type map[string]interface {}"},
		{"attestationObject without fmt", u([]byte("\xa2\x67attStmt\xa0\x68authData\x40")), "attestationObject: fmt is missing"},
		{"attestationObject duplicate key", u([]byte("\xa3\x63fmt\x64none\x63fmt\x64none\x67attStmt\xa0")), `attestationObject: invalid CBOR: found duplicate map key "fmt" at map element index 1`},
		{"attestationObject trailing", loadSpecVectors(t).Vectors[0].Registration.AttestationObject + "00", "attestationObject: 1 trailing byte after the CBOR item, at byte 194"},
		{"attestationObject bad authData", u(append([]byte("\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData\x58\x32"), reg[:50]...)), "attestationObject.authData: AT flag set but attested credential data is truncated at byte 50 (AAGUID and credentialIdLength need bytes 37–54)"},
		{"not an encoding", "hello, world!", "input is not JSON, base64url, base64 or hex: illegal base64 data at input byte 5"},
		{"unknown JSON", `{"foo":1,"bar":2}`, `input is a JSON object with members "bar", "foo", which is neither clientDataJSON nor a RegistrationResponseJSON or AuthenticationResponseJSON`},
		{"bad JSON", `{"type":`, "input is not a JSON object: unexpected end of JSON input"},
		{"clientDataJSON type", `{"type":1,"challenge":"x"}`, "clientDataJSON: type is 1, not a string"},
		{"response without parts", `{"id":"AA","type":"public-key","response":{}}`, "response has neither attestationObject (a registration) nor signature (an authentication)"},
		{"response bad base64", `{"id":"AA","response":{"clientDataJSON":"!!","signature":"AA"}}`, "response.clientDataJSON: not base64url: illegal base64 data at input byte 0"},
		{"assertion truncated", `{"id":"AA","response":{"authenticatorData":"` + u(assertion[:30]) + `","signature":"AA"}}`, "response.authenticatorData: 30 bytes, shorter than the 37 of rpIdHash, flags and signCount"},
		{"wrapper not an object", `{"authenticationResponseJson":42}`, "authenticationResponseJson is not a JSON object"},
		{"too many layers", quoteN("{}", 6), "input is wrapped in too many layers of strings and base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in), Options{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

// quoteN wraps s in n levels of JSON string encoding.
func quoteN(s string, n int) string {
	for range n {
		s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

func TestDecodeEmpty(t *testing.T) {
	for _, in := range []string{"", " \n\t", "\xef\xbb\xbf\n"} {
		if _, err := Decode([]byte(in), Options{}); !errors.Is(err, ErrEmpty) {
			t.Errorf("Decode(%q) = %v, want ErrEmpty", in, err)
		}
	}
}
