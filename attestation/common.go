package attestation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// algES256 is the COSE identifier of ECDSA with P-256 and SHA-256 (RFC 9053
// §2.1), the only algorithm passkeyd's keys use.
const algES256 = -7

// Offsets in authenticatorData (WebAuthn §6.1): rpIdHash(32) ‖ flags(1) ‖
// signCount(4) ‖ aaguid(16) ‖ credentialIdLength(2) ‖ credentialId ‖ key.
const (
	flagsOffset  = 32
	aaguidOffset = 37
	credIDOffset = 55
	flagAT       = 0x40
)

// encMode encodes attestation statements in the CTAP2 canonical form
// (CTAP 2.1 §8 "Message encoding"), as the attestation object carrying them
// must be.
var encMode = func() cbor.EncMode {
	m, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// checkInput rejects input no statement can be made over: a clientDataHash
// that is not SHA-256 sized, or authData without attested credential data
// for in.AAGUID (WebAuthn §6.5.1).
func checkInput(in Input) error {
	if len(in.ClientDataHash) != sha256.Size {
		return fmt.Errorf("%w: clientDataHash is %d bytes, not 32", ErrInvalidInput, len(in.ClientDataHash))
	}
	ad := in.AuthData
	if len(ad) < credIDOffset || ad[flagsOffset]&flagAT == 0 {
		return fmt.Errorf("%w: authenticatorData has no attested credential data", ErrInvalidInput)
	}
	if !bytes.Equal(ad[aaguidOffset:aaguidOffset+16], in.AAGUID[:]) {
		return fmt.Errorf("%w: authenticatorData AAGUID differs from Input.AAGUID", ErrInvalidInput)
	}
	return nil
}

// coseEC2Key is the part of a COSE_Key (RFC 9052 §7) that identifies an
// ES256 public key.
type coseEC2Key struct {
	Kty int    `cbor:"1,keyasint"`
	Alg int    `cbor:"3,keyasint"`
	Crv int    `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint"`
}

// credentialPublicKey returns the credential public key of authData's
// attested credential data (WebAuthn §6.5.1), which must be ES256.
func credentialPublicKey(authData []byte) (*ecdsa.PublicKey, error) {
	if len(authData) < credIDOffset {
		return nil, fmt.Errorf("%w: authenticatorData is too short", ErrInvalidInput)
	}
	n := int(authData[credIDOffset-2])<<8 | int(authData[credIDOffset-1])
	if len(authData) < credIDOffset+n {
		return nil, fmt.Errorf("%w: credential ID overruns authenticatorData", ErrInvalidInput)
	}
	var k coseEC2Key
	if _, err := cbor.UnmarshalFirst(authData[credIDOffset+n:], &k); err != nil {
		return nil, fmt.Errorf("%w: credential public key: %v", ErrInvalidInput, err)
	}
	if k.Kty != 2 || k.Alg != algES256 || k.Crv != 1 || len(k.X) != 32 || len(k.Y) != 32 {
		return nil, fmt.Errorf("%w: credential public key is not ES256 with 32-byte coordinates", ErrInvalidInput)
	}
	point := append(append([]byte{4}, k.X...), k.Y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("%w: credential public key: %v", ErrInvalidInput, err)
	}
	return pub, nil
}

// checkCredentialKey verifies that in.CredentialKey is the key authData
// attests, so a certificate made for one certifies the other.
func checkCredentialKey(in Input) (*ecdsa.PublicKey, error) {
	pub, err := credentialPublicKey(in.AuthData)
	if err != nil {
		return nil, err
	}
	if in.CredentialKey == nil || !pub.Equal(in.CredentialKey.Public()) {
		return nil, fmt.Errorf("%w: CredentialKey is not the key in authenticatorData", ErrInvalidInput)
	}
	return pub, nil
}

// signES256 returns the ASN.1 DER ECDSA signature of key over the
// concatenation of parts, hashed with SHA-256: the "sig" of packed,
// android-key and self attestation (WebAuthn §8.2, §8.4).
func signES256(key crypto.Signer, parts ...[]byte) ([]byte, error) {
	if key == nil {
		return nil, errors.New("attestation: no signing key")
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("attestation: signing key is not ECDSA P-256")
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	sig, err := key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to sign: %w", err)
	}
	return sig, nil
}

// statement encodes attStmt canonically under fmt.
func statement(format string, attStmt any) (Statement, error) {
	raw, err := encMode.Marshal(attStmt)
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: failed to encode %s statement: %w", format, err)
	}
	return Statement{Format: format, AttStmt: raw}, nil
}
