package decode

import (
	"bytes"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// tpmObject builds a tpm attestationObject around the spec's packed ES256
// authData, with certInfo and pubArea laid out as TPM 2.0 Part 2 says
// (TPMS_ATTEST of type ATTEST_CERTIFY; TPMT_PUBLIC of an ECC key).
func tpmObject(t *testing.T, magic string, ver string) []byte {
	v := loadSpecVectors(t)
	att := mustDecode(t, []byte(v.Vectors[2].Registration.AttestationObject), KindAttestation).Attestation
	extra := bytes.Repeat([]byte{0xee}, 32)
	certInfo := slices.Concat(unhex(t, magic+"8017"), []byte{0, 0, 0, 32}, extra, make([]byte, 17+8), []byte{0, 0, 0, 0})
	pubArea := slices.Concat(unhex(t, "0023000b00060472"), []byte{0, 0})
	obj, err := cbor.Marshal(map[string]any{"fmt": "tpm", "authData": att.AuthData.raw, "attStmt": map[string]any{
		"ver": ver, "alg": -7, "sig": unhex(t, v.Vectors[2].Authentication.Signature),
		"x5c": [][]byte{unhex(t, v.AttestationCACert)}, "certInfo": certInfo, "pubArea": pubArea}})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestTPMStatement(t *testing.T) {
	att := mustDecode(t, tpmObject(t, "ff544347", "2.0"), KindAttestation).Attestation
	s := att.Statement
	if att.Fmt != "tpm" || s.Ver != "2.0" || s.Type != "basic or AttCA (x5c)" || len(s.X5C) != 1 || s.X5C[0].BasicConstraints != "CA" {
		t.Errorf("statement = %+v", s)
	}
	if c := s.CertInfo; c == nil || c.Length != 71 || c.Magic != "ff544347" || c.Type != "8017" || c.ExtraData != hex.EncodeToString(bytes.Repeat([]byte{0xee}, 32)) {
		t.Errorf("certInfo = %+v", c)
	}
	if p := s.PubArea; p == nil || p.Length != 10 || p.Type != "ECC" || p.NameAlg != "SHA-256" {
		t.Errorf("pubArea = %+v", p)
	}
	if len(att.Warnings) != 0 {
		t.Errorf("warnings %q", att.Warnings)
	}
	att = mustDecode(t, tpmObject(t, "ff544348", "1.2"), KindAttestation).Attestation
	want := []string{`tpm attestation ver is "1.2", not "2.0"`, "certInfo magic is ff544348, not TPM_GENERATED_VALUE (ff544347)"}
	if !slices.Equal(att.Warnings, want) {
		t.Errorf("warnings %q, want %q", att.Warnings, want)
	}
}
