package ctap

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
)

// COSE identifiers (RFC 9053, IANA COSE registries).
const (
	COSEKtyEC2        = 2
	COSECrvP256       = 1
	COSEAlgES256      = -7
	COSEAlgECDHESHKDF = -25 // ECDH-ES + HKDF-256, the ClientPIN keyAgreement (CTAP 2.1 §6.5.6)
)

// COSEKey is an EC2 public key (RFC 9052 §7, RFC 9053 §7.1.1): kty 1, alg 3,
// crv -1, x -2, y -3. Coordinates are always 32 bytes, left-padded; crv is
// always present — both are pitfalls relying parties reject.
type COSEKey struct {
	Kty int    `cbor:"1,keyasint"`
	Alg int    `cbor:"3,keyasint"`
	Crv int    `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint"`
}

// NewCOSEKey returns the COSE form of an uncompressed SEC1 P-256 point.
func NewCOSEKey(alg int, point []byte) (*COSEKey, error) {
	if len(point) != 65 || point[0] != 4 {
		return nil, fmt.Errorf("ctap: not an uncompressed P-256 point (%d bytes)", len(point))
	}
	return &COSEKey{Kty: COSEKtyEC2, Alg: alg, Crv: COSECrvP256,
		X: append([]byte(nil), point[1:33]...), Y: append([]byte(nil), point[33:]...)}, nil
}

// COSEKeyFromECDSA returns the ES256 COSE key of pub.
func COSEKeyFromECDSA(pub *ecdsa.PublicKey) (*COSEKey, error) {
	point, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ctap: %w", err)
	}
	return NewCOSEKey(COSEAlgES256, point)
}

// Point returns the uncompressed SEC1 encoding, after checking the key is a
// P-256 EC2 key with 32-byte coordinates.
func (k *COSEKey) Point() ([]byte, error) {
	if k.Kty != COSEKtyEC2 || k.Crv != COSECrvP256 || len(k.X) != 32 || len(k.Y) != 32 {
		return nil, Errorf(ErrInvalidParameter, "COSE key is not EC2 P-256 with 32-byte coordinates")
	}
	p := make([]byte, 0, 65)
	p = append(p, 4)
	p = append(p, k.X...)
	return append(p, k.Y...), nil
}

// ECDSA returns the key as an *ecdsa.PublicKey; the point must be on the curve.
func (k *COSEKey) ECDSA() (*ecdsa.PublicKey, error) {
	p, err := k.Point()
	if err != nil {
		return nil, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), p)
	if err != nil {
		return nil, Errorf(ErrInvalidParameter, "COSE key: %v", err)
	}
	return pub, nil
}

// ECDH returns the key as an *ecdh.PublicKey (for ClientPIN key agreement).
func (k *COSEKey) ECDH() (*ecdh.PublicKey, error) {
	p, err := k.Point()
	if err != nil {
		return nil, err
	}
	pub, err := ecdh.P256().NewPublicKey(p)
	if err != nil {
		return nil, Errorf(ErrInvalidParameter, "COSE key: %v", err)
	}
	return pub, nil
}
