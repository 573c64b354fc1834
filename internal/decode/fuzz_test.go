package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/ctap"
)

// seedSpecVectors adds every binary part of the spec vectors, raw and as
// text, and a response and clientDataJSON in JSON.
func seedSpecVectors(f *testing.F, text bool) {
	v := loadSpecVectors(f)
	for _, vec := range v.Vectors {
		for _, h := range []string{vec.Registration.AttestationObject, vec.Authentication.AuthenticatorData} {
			b := unhex(f, h)
			f.Add(b)
			if text {
				f.Add([]byte(h))
				f.Add([]byte(base64.StdEncoding.EncodeToString(b)))
			}
		}
		if text {
			f.Add(unhex(f, vec.Registration.ClientDataJSON))
			f.Add([]byte(`{"registrationResponseJson":{"id":"AA","type":"public-key","response":{"clientDataJSON":"` +
				b64(unhex(f, vec.Registration.ClientDataJSON)) + `","attestationObject":"` + b64(unhex(f, vec.Registration.AttestationObject)) + `"}}}`))
		}
	}
}

// FuzzDecode: any input decodes or gives a one-line error; never a panic.
// A result always has a kind and encodes as JSON (--json must not fail).
func FuzzDecode(f *testing.F) {
	seedSpecVectors(f, true)
	f.Add([]byte(`"{\"authenticationResponseJson\":\"{\\\"response\\\":{\\\"signature\\\":\\\"MAYCAQECAQE\\\"}}\"}"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data, Options{RPIDs: []string{"example.org"}})
		if err != nil {
			if r != nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("result %v with error %q", r, err)
			}
			return
		}
		if r.Kind == "" || r.Encoding == "" {
			t.Fatalf("result without kind or encoding: %+v", r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("result does not encode as JSON: %v", err)
		}
	})
}

// FuzzAuthData: the decoder reads every authenticatorData that ctap's
// strict parser accepts (unless its key or extensions are not what their
// CBOR claims to be), agrees with it field by field, and never reads past
// the input.
func FuzzAuthData(f *testing.F) {
	seedSpecVectors(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		ad, err := parseAuthData(data)
		strict, strictErr := ctap.ParseAuthData(data)
		if err != nil {
			if strictErr == nil && !strings.Contains(err.Error(), "credential public key") && !strings.Contains(err.Error(), "extensions") {
				t.Fatalf("ctap accepts what decode refuses: %v", err)
			}
			return
		}
		if ad.Length != len(data) || ad.Flags.Value != data[32] || ad.SignCount != binary.BigEndian.Uint32(data[33:37]) {
			t.Fatalf("decoded %+v from %x", ad, data)
		}
		if strictErr != nil {
			return
		}
		if !bytes.Equal(strict.Marshal(), data) || (strict.Attested == nil) != (ad.Attested == nil) {
			t.Fatalf("ctap and decode disagree on %x", data)
		}
		if ad.Attested != nil && !bytes.Equal(ad.Attested.CredentialID, strict.Attested.CredentialID) {
			t.Fatalf("credential IDs differ: %x vs %x", ad.Attested.CredentialID, strict.Attested.CredentialID)
		}
	})
}
