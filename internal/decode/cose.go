package decode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/passkeyd/passkeyd/credman"
)

// COSEKey is a decoded credential public key (RFC 9052 §7, RFC 9053 §7):
// EC2 keys have Crv, X and Y; OKP keys Crv and X; RSA keys N and E.
type COSEKey struct {
	Kty      int           `json:"kty"`
	KtyName  string        `json:"ktyName,omitempty"`
	Alg      *int          `json:"alg,omitempty"`
	AlgName  string        `json:"algName,omitempty"`
	Crv      *int          `json:"crv,omitempty"`
	CrvName  string        `json:"crvName,omitempty"`
	X        credman.Bytes `json:"x,omitempty"`
	Y        credman.Bytes `json:"y,omitempty"`
	N        credman.Bytes `json:"n,omitempty"`
	E        credman.Bytes `json:"e,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
}

// COSE labels and values (IANA COSE registries).
const (
	coseKty = 1
	coseAlg = 3
	coseCrv = -1 // EC2, OKP; n for RSA
	coseX   = -2 // EC2, OKP; e for RSA
	coseY   = -3 // EC2

	ktyOKP = 1
	ktyEC2 = 2
	ktyRSA = 3
)

var ktyNames = map[int]string{ktyOKP: "OKP", ktyEC2: "EC2", ktyRSA: "RSA"}

// AlgNames names the COSE algorithms WebAuthn authenticators use.
var AlgNames = map[int]string{-7: "ES256", -8: "EdDSA", -35: "ES384", -36: "ES512", -37: "PS256",
	-38: "PS384", -39: "PS512", -47: "ES256K", -257: "RS256", -258: "RS384", -259: "RS512",
	-65535: "RS1", -19: "Ed25519", -9: "ESP256"}

// curves are the COSE elliptic curves, with each one's coordinate size.
var curves = map[int]struct {
	name string
	size int
}{1: {"P-256", 32}, 2: {"P-384", 48}, 3: {"P-521", 66}, 6: {"Ed25519", 32}, 7: {"Ed448", 57}, 8: {"secp256k1", 32}}

// parseCOSEKey decodes a COSE_Key map and checks what relying parties check.
func parseCOSEKey(b []byte) (*COSEKey, error) {
	var m map[int]cbor.RawMessage
	if err := unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not a COSE_Key map with integer labels: %v", err)
	}
	k := &COSEKey{}
	if err := intLabel(m, coseKty, "kty", &k.Kty); err != nil {
		return nil, err
	}
	if _, ok := m[coseKty]; !ok {
		return nil, fmt.Errorf("COSE key has no kty (label 1)")
	}
	k.KtyName = ktyNames[k.Kty]
	if err := k.fields(m); err != nil {
		return nil, err
	}
	k.check()
	return k, nil
}

// fields reads alg and the type's key parameters.
func (k *COSEKey) fields(m map[int]cbor.RawMessage) error {
	if _, ok := m[coseAlg]; ok {
		var alg int
		if err := intLabel(m, coseAlg, "alg", &alg); err != nil {
			return err
		}
		k.Alg, k.AlgName = &alg, AlgNames[alg]
	}
	switch k.Kty {
	case ktyEC2, ktyOKP:
		if _, ok := m[coseCrv]; ok {
			var crv int
			if err := intLabel(m, coseCrv, "crv", &crv); err != nil {
				return err
			}
			k.Crv, k.CrvName = &crv, curves[crv].name
		}
		if err := bytesLabel(m, coseX, "x", &k.X); err != nil {
			return err
		}
		return bytesLabel(m, coseY, "y", &k.Y)
	case ktyRSA:
		if err := bytesLabel(m, coseCrv, "n", &k.N); err != nil {
			return err
		}
		return bytesLabel(m, coseX, "e", &k.E)
	}
	return nil
}

func intLabel(m map[int]cbor.RawMessage, label int, name string, dst *int) error {
	raw, ok := m[label]
	if !ok {
		return nil
	}
	if err := unmarshal(raw, dst); err != nil {
		return fmt.Errorf("COSE key %s (label %d) is not an integer", name, label)
	}
	return nil
}

func bytesLabel(m map[int]cbor.RawMessage, label int, name string, dst *credman.Bytes) error {
	raw, ok := m[label]
	if !ok {
		return nil
	}
	var b []byte
	if err := unmarshal(raw, &b); err != nil {
		return fmt.Errorf("COSE key %s (label %d) is not a byte string", name, label)
	}
	*dst = b
	return nil
}

func (k *COSEKey) warn(format string, args ...any) {
	k.Warnings = append(k.Warnings, fmt.Sprintf(format, args...))
}

// check notes the pitfalls peers fell into: EC2 keys without crv, and
// coordinates not left-padded to the curve's size.
func (k *COSEKey) check() {
	if k.Alg == nil {
		k.warn("alg (label 3) is missing; relying parties need it to pick the signature algorithm")
	} else if k.AlgName == "" {
		k.warn("alg %d is not a COSE algorithm WebAuthn relying parties support", *k.Alg)
	}
	switch k.Kty {
	case ktyEC2:
		k.checkEC2()
	case ktyOKP:
		k.checkOKP()
	case ktyRSA:
		if len(k.N) == 0 || len(k.E) == 0 {
			k.warn("RSA key without n (label -1) or e (label -2)")
		}
	default:
		k.warn("kty %d is not OKP (1), EC2 (2) or RSA (3)", k.Kty)
	}
}

func (k *COSEKey) checkEC2() {
	if k.Crv == nil {
		k.warn("crv (label -1) is missing; an EC2 key must name its curve")
	} else if c, ok := curves[*k.Crv]; !ok || *k.Crv == 6 || *k.Crv == 7 {
		k.warn("crv %d is not an EC2 curve", *k.Crv)
	} else {
		k.checkCoordinate("x", k.X, c.size)
		k.checkCoordinate("y", k.Y, c.size)
	}
	if k.Crv != nil && *k.Crv == 1 && len(k.X) == 32 && len(k.Y) == 32 && !onP256(k.X, k.Y) {
		k.warn("the point (x, y) is not on the P-256 curve")
	}
	if k.Alg != nil && *k.Alg == -7 && k.Crv != nil && *k.Crv != 1 {
		k.warn("alg ES256 (-7) needs crv P-256 (1), not %d", *k.Crv)
	}
}

func (k *COSEKey) checkCoordinate(name string, v []byte, size int) {
	switch {
	case len(v) == 0:
		k.warn("%s is missing", name)
	case len(v) < size:
		k.warn("%s is %d bytes, short of %d: coordinates must be left-padded with zeros", name, len(v), size)
	case len(v) > size:
		k.warn("%s is %d bytes, more than the curve's %d", name, len(v), size)
	}
}

func (k *COSEKey) checkOKP() {
	if k.Crv == nil {
		k.warn("crv (label -1) is missing; an OKP key must name its curve")
		return
	}
	if c, ok := curves[*k.Crv]; ok && (*k.Crv == 6 || *k.Crv == 7) {
		k.checkCoordinate("x", k.X, c.size)
	} else {
		k.warn("crv %d is not an OKP curve", *k.Crv)
	}
}

func onP256(x, y []byte) bool {
	p := append(append([]byte{4}, x...), y...)
	_, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), p)
	return err == nil
}
