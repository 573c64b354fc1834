package decode

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// TPMCertInfo summarizes a tpm statement's certInfo, a TPMS_ATTEST
// structure (WebAuthn §8.3; TPM 2.0 Part 2 §10.12.12).
type TPMCertInfo struct {
	Length    int    `json:"length"`
	Magic     string `json:"magic,omitempty"`     // hex; ff544347 is TPM_GENERATED_VALUE
	Type      string `json:"type,omitempty"`      // hex; 8017 is TPM_ST_ATTEST_CERTIFY
	ExtraData string `json:"extraData,omitempty"` // hex: the hash of attToBeSigned
	Error     string `json:"error,omitempty"`
}

// TPMPubArea summarizes a tpm statement's pubArea, a TPMT_PUBLIC structure
// (TPM 2.0 Part 2 §12.2.4).
type TPMPubArea struct {
	Length  int    `json:"length"`
	Type    string `json:"type,omitempty"`    // "ECC", "RSA" or hex
	NameAlg string `json:"nameAlg,omitempty"` // "SHA-256", … or hex
	Error   string `json:"error,omitempty"`
}

var tpmAlgs = map[uint16]string{0x0001: "RSA", 0x0023: "ECC", 0x0004: "SHA-1", 0x000b: "SHA-256",
	0x000c: "SHA-384", 0x000d: "SHA-512"}

// tpm reads the members only the tpm format has.
func (s *Statement) tpm(m map[string]cbor.RawMessage) error {
	if _, err := optionalMember(m, "ver", &s.Ver); err != nil {
		return err
	}
	var certInfo, pubArea []byte
	ok, err := optionalMember(m, "certInfo", &certInfo)
	if err != nil {
		return err
	}
	if ok {
		s.CertInfo = parseCertInfo(certInfo)
	}
	if ok, err = optionalMember(m, "pubArea", &pubArea); err != nil {
		return err
	}
	if ok {
		s.PubArea = parsePubArea(pubArea)
	}
	return nil
}

func parseCertInfo(b []byte) *TPMCertInfo {
	c := &TPMCertInfo{Length: len(b)}
	if len(b) < 8 {
		c.Error = fmt.Sprintf("%d bytes, too short for magic, type and qualifiedSigner", len(b))
		return c
	}
	c.Magic, c.Type = hex.EncodeToString(b[:4]), hex.EncodeToString(b[4:6])
	_, rest, ok := tpm2b(b[6:])
	if !ok {
		c.Error = "qualifiedSigner is truncated"
		return c
	}
	extra, _, ok := tpm2b(rest)
	if !ok {
		c.Error = "extraData is truncated"
		return c
	}
	c.ExtraData = hex.EncodeToString(extra)
	return c
}

func parsePubArea(b []byte) *TPMPubArea {
	p := &TPMPubArea{Length: len(b)}
	if len(b) < 4 {
		p.Error = fmt.Sprintf("%d bytes, too short for type and nameAlg", len(b))
		return p
	}
	p.Type, p.NameAlg = tpmAlg(binary.BigEndian.Uint16(b)), tpmAlg(binary.BigEndian.Uint16(b[2:]))
	return p
}

func tpmAlg(id uint16) string {
	if s, ok := tpmAlgs[id]; ok {
		return s
	}
	return fmt.Sprintf("%04x", id)
}

// tpm2b splits a TPM2B (a 2-byte big-endian size, then that many bytes).
func tpm2b(b []byte) (body, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}
