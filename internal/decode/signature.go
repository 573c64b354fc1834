package decode

import (
	"encoding/asn1"
	"fmt"
	"math/big"
)

// Signature is a decoded signature: for ECDSA, the DER SEQUENCE of r and s
// that WebAuthn requires (§6.5.5).
type Signature struct {
	Length   int      `json:"length"`
	Format   string   `json:"format"`      // "DER ECDSA", or what it seems to be instead
	R        string   `json:"r,omitempty"` // hex
	S        string   `json:"s,omitempty"` // hex
	Warnings []string `json:"warnings,omitempty"`
}

// ecdsaSig is ECDSA-Sig-Value (RFC 3279 §2.2.3).
type ecdsaSig struct{ R, S *big.Int }

// parseSignature decodes sig. alg is the COSE algorithm when known (0 when
// not): only ECDSA signatures have an inner structure to show.
func parseSignature(sig []byte, alg int) *Signature {
	s := &Signature{Length: len(sig)}
	if len(sig) == 0 {
		s.Format = "empty"
		s.warn("the signature is empty")
		return s
	}
	if alg != 0 && !isECDSA(alg) {
		s.Format = AlgNames[alg]
		if s.Format == "" {
			s.Format = fmt.Sprintf("COSE algorithm %d", alg)
		}
		return s
	}
	var v ecdsaSig
	rest, err := asn1.Unmarshal(sig, &v)
	switch {
	case err == nil && len(rest) == 0 && v.R != nil && v.S != nil:
		s.Format, s.R, s.S = "DER ECDSA", fmt.Sprintf("%x", v.R), fmt.Sprintf("%x", v.S)
		s.checkRS(v)
	case len(sig) == 64 || len(sig) == 96 || len(sig) == 132:
		s.Format = "raw r‖s"
		s.warn("the signature is %d bytes and not DER: it looks like raw r‖s (IEEE P1363); WebAuthn ECDSA signatures must be DER-encoded (§6.5.5)", len(sig))
	default:
		s.Format = "not DER"
		s.warn("the signature is not a DER ECDSA signature (RSA and EdDSA signatures have no inner structure)")
	}
	return s
}

func (s *Signature) checkRS(v ecdsaSig) {
	if v.R.Sign() <= 0 || v.S.Sign() <= 0 {
		s.warn("r and s must be positive")
	}
}

func (s *Signature) warn(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

func isECDSA(alg int) bool {
	switch alg {
	case -7, -35, -36, -47, -9:
		return true
	}
	return false
}
