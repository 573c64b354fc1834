package provider

import (
	"crypto/hmac"
	"crypto/sha256"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/pinuv"
)

// Extension identifiers (CTAP 2.1 §12).
const (
	extCredProtect  = "credProtect"
	extHMACSecret   = "hmac-secret"
	extCredBlob     = "credBlob"
	extLargeBlobKey = "largeBlobKey"
	extMinPINLength = "minPinLength"
)

// MaxCredBlobLength is the largest credBlob accepted (CTAP 2.1 §12.2 requires ≥ 32).
const MaxCredBlobLength = 64

// mcExtensions are the MakeCredential extension inputs the provider acts on.
type mcExtensions struct {
	credProtect  uint8
	hmacSecret   bool
	credBlob     []byte
	hasCredBlob  bool
	largeBlobKey bool
	minPINLength bool
}

func decodeExt(raw cbor.RawMessage, name string, v any) error {
	if err := ctap.Unmarshal(raw, v); err != nil {
		return ctap.Errorf(ctap.StatusOf(err), "extension %s: %v", name, err)
	}
	return nil
}

func parseMCExtensions(m map[string]cbor.RawMessage) (mcExtensions, error) {
	var e mcExtensions
	for name, raw := range m {
		var err error
		switch name {
		case extCredProtect:
			var lvl uint
			if err = decodeExt(raw, name, &lvl); err == nil && (lvl < 1 || lvl > 3) {
				err = ctap.Errorf(ctap.ErrInvalidParameter, "credProtect %d is not 1, 2 or 3", lvl)
			}
			e.credProtect = uint8(lvl)
		case extHMACSecret:
			err = decodeExt(raw, name, &e.hmacSecret)
		case extCredBlob:
			err = decodeExt(raw, name, &e.credBlob)
			e.hasCredBlob = true
		case extLargeBlobKey:
			if err = decodeExt(raw, name, &e.largeBlobKey); err == nil && !e.largeBlobKey {
				err = ctap.Errorf(ctap.ErrInvalidOption, "largeBlobKey must be true when present")
			}
		case extMinPINLength:
			err = decodeExt(raw, name, &e.minPINLength)
		}
		if err != nil {
			return e, err
		}
	}
	return e, nil
}

// gaExtensions are the GetAssertion extension inputs the provider acts on.
type gaExtensions struct {
	hmacSecret   *ctap.HMACSecretInput
	credBlob     bool
	largeBlobKey bool
}

func parseGAExtensions(m map[string]cbor.RawMessage) (gaExtensions, error) {
	var e gaExtensions
	for name, raw := range m {
		var err error
		switch name {
		case extHMACSecret:
			e.hmacSecret = new(ctap.HMACSecretInput)
			err = decodeExt(raw, name, e.hmacSecret)
		case extCredBlob:
			err = decodeExt(raw, name, &e.credBlob)
		case extLargeBlobKey:
			if err = decodeExt(raw, name, &e.largeBlobKey); err == nil && !e.largeBlobKey {
				err = ctap.Errorf(ctap.ErrInvalidOption, "largeBlobKey must be true when present")
			}
		}
		if err != nil {
			return e, err
		}
	}
	return e, nil
}

// secrets are a credential's extension secrets, sealed as one blob.
type secrets struct {
	CredRandomUV   []byte `cbor:"1,keyasint,omitempty"` // hmac-secret, with UV
	CredRandomNoUV []byte `cbor:"2,keyasint,omitempty"` // hmac-secret, without UV
	LargeBlobKey   []byte `cbor:"3,keyasint,omitempty"`
}

// hmacSecret computes the hmac-secret output (CTAP 2.1 §12.5): HMAC-SHA-256
// of one or two salts under the credential's CredRandom, encrypted for the
// platform under the shared secret.
func (p *Provider) hmacSecret(in *ctap.HMACSecretInput, s *secrets, uv bool) ([]byte, error) {
	proto := in.PinUvAuthProtocol
	if proto == 0 {
		proto = 1 // absent means protocol one (CTAP 2.1 §12.5)
	}
	pr, err := protocol(proto)
	if err != nil {
		return nil, err
	}
	if in.KeyAgreement == nil || in.SaltEnc == nil || in.SaltAuth == nil {
		return nil, ctap.Errorf(ctap.ErrMissingParameter, "hmac-secret needs keyAgreement, saltEnc and saltAuth")
	}
	peer, err := in.KeyAgreement.ECDH()
	if err != nil {
		return nil, err
	}
	shared, err := pinuv.Shared(pr, p.keyAgreement(proto), peer)
	if err != nil {
		return nil, ctap.Errorf(ctap.ErrInvalidParameter, "%v", err)
	}
	if !pr.Verify(shared, in.SaltEnc, in.SaltAuth) {
		return nil, ctap.Errorf(ctap.ErrPINAuthInvalid, "hmac-secret saltAuth does not verify")
	}
	salts, err := pr.Decrypt(shared, in.SaltEnc)
	if err != nil || (len(salts) != 32 && len(salts) != 64) {
		return nil, ctap.Errorf(ctap.ErrInvalidLength, "hmac-secret salts must be 32 or 64 bytes")
	}
	key := s.CredRandomNoUV
	if uv {
		key = s.CredRandomUV
	}
	var out []byte
	for i := 0; i < len(salts); i += 32 {
		m := hmac.New(sha256.New, key)
		m.Write(salts[i : i+32])
		out = m.Sum(out)
	}
	return pr.Encrypt(shared, out)
}
