package attestation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// FormatTPM is the identifier of the TPM attestation statement format.
const FormatTPM = "tpm"

// OIDs of the TPM attestation profile (WebAuthn §8.3.1; TCG EK Credential
// Profile §3.2.9 for the subjectAltName attributes).
var (
	OIDTCGKpAIKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 3}
	oidTPMManufacturer     = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel            = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion          = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidSubjectAltName      = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// TPMDevice identifies a TPM for its AIK certificate's subjectAltName
// (WebAuthn §8.3.1; TCG EK Credential Profile §3.2.9).
type TPMDevice struct {
	Manufacturer    uint32 // TPM_PT_MANUFACTURER, e.g. 0x49424D00 ("IBM", swtpm)
	Model           string // TPM_PT_VENDOR_STRING_1..4, concatenated
	FirmwareVersion uint32 // TPM_PT_FIRMWARE_VERSION_1
}

// TPMCertification is what TPM2_Certify returns (TPM 2.0 Part 3 §18.2),
// with the certified key's public area, all in TPM wire form.
type TPMCertification struct {
	PubArea   []byte // TPMT_PUBLIC of the credential key
	CertInfo  []byte // TPMS_ATTEST, of type TPM_ST_ATTEST_CERTIFY
	Signature []byte // the AK's ECDSA-SHA256 signature over CertInfo: ASN.1 DER, or the TPMT_SIGNATURE as the TPM returns it
}

// TPMCertifier is what the tpm format needs from a TPM key backend: a
// certification of a TPM-resident credential key by the TPM's attestation
// key (AK), and that key's identity.
type TPMCertifier interface {
	// Certify runs TPM2_Certify of the credential key created for credID
	// (key is the signer the backend returned for it), signed by the AK,
	// with qualifyingData as extraData.
	Certify(credID []byte, key crypto.Signer, qualifyingData []byte) (*TPMCertification, error)
	// AttestationKey returns the AK's public key (ECDSA P-256) and the TPM.
	AttestationKey() (crypto.PublicKey, TPMDevice, error)
}

// tpmStmt is the tpm attStmt (WebAuthn §8.3). fxamacker sorts the keys in
// CTAP2 canonical order: alg, sig, ver, x5c, pubArea, certInfo.
type tpmStmt struct {
	Ver      string   `cbor:"ver"`
	Alg      int      `cbor:"alg"`
	X5C      [][]byte `cbor:"x5c"`
	Sig      []byte   `cbor:"sig"`
	CertInfo []byte   `cbor:"certInfo"`
	PubArea  []byte   `cbor:"pubArea"`
}

// TPM makes tpm attestation (WebAuthn §8.3 "TPM Attestation Statement
// Format", attestation type AttCA): the TPM certifies the TPM-resident
// credential key with its AK over extraData = SHA-256(authenticatorData ‖
// clientDataHash), and x5c holds an AIK certificate for the AK issued by
// the local CA under the TPM attestation profile (§8.3.1).
type TPM struct {
	CA        *Authority
	Certifier TPMCertifier

	mu   sync.Mutex
	aiks map[aikKey][]byte
}

var _ Attester = (*TPM)(nil)

type aikKey struct {
	aaguid [16]byte
	ak     [32]byte // SHA-256 of the AK's SubjectPublicKeyInfo
	dev    TPMDevice
}

// Format returns "tpm".
func (*TPM) Format() string { return FormatTPM }

// Attest certifies the credential key in the TPM (WebAuthn §8.3 signing
// procedure). The signature is conveyed as ASN.1 DER ECDSA, as relying
// parties verify it with the AIK certificate's key (§8.3 verification
// procedure), although the attStmt definition names a TPMT_SIGNATURE.
func (t *TPM) Attest(in Input) (Statement, error) {
	if t.CA == nil {
		return Statement{}, ErrNoCA
	}
	if t.Certifier == nil {
		return Statement{}, ErrNoTPM
	}
	if err := checkInput(in); err != nil {
		return Statement{}, err
	}
	credKey, err := credentialPublicKey(in.AuthData)
	if err != nil {
		return Statement{}, err
	}
	extraData := sha256.Sum256(append(append([]byte(nil), in.AuthData...), in.ClientDataHash...))
	c, err := t.Certifier.Certify(in.CredentialID, in.CredentialKey, extraData[:])
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: TPM2_Certify failed: %w", err)
	}
	ak, dev, err := t.Certifier.AttestationKey()
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: failed to read the TPM attestation key: %w", err)
	}
	sig, err := checkCertification(c, credKey, ak, extraData[:])
	if err != nil {
		return Statement{}, err
	}
	aik, err := t.aikCertificate(ak, dev, in.AAGUID)
	if err != nil {
		return Statement{}, err
	}
	return statement(FormatTPM, tpmStmt{Ver: "2.0", Alg: algES256, X5C: [][]byte{aik}, Sig: sig, CertInfo: c.CertInfo, PubArea: c.PubArea})
}

func (t *TPM) aikCertificate(ak crypto.PublicKey, dev TPMDevice, aaguid [16]byte) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(ak)
	if err != nil {
		return nil, fmt.Errorf("attestation: TPM attestation key: %w", err)
	}
	key := aikKey{aaguid: aaguid, ak: sha256.Sum256(spki), dev: dev}
	t.mu.Lock()
	defer t.mu.Unlock()
	if der, ok := t.aiks[key]; ok {
		return der, nil
	}
	der, err := t.CA.IssueAIKCertificate(ak, dev, aaguid)
	if err != nil {
		return nil, err
	}
	if t.aiks == nil {
		t.aiks = map[aikKey][]byte{}
	}
	t.aiks[key] = der
	return der, nil
}

// checkCertification does what a relying party will (WebAuthn §8.3
// verification procedure), so a TPM backend fault shows here rather than
// as a rejected registration: pubArea is the credential key, certInfo is a
// TPM-generated certification of that key's name with extraData, and the
// AK signed it. It returns the signature in DER.
func checkCertification(c *TPMCertification, credKey *ecdsa.PublicKey, ak crypto.PublicKey, extraData []byte) ([]byte, error) {
	pub, err := checkPubArea(c.PubArea, credKey)
	if err != nil {
		return nil, err
	}
	if err := checkCertInfo(c.CertInfo, pub, extraData); err != nil {
		return nil, err
	}
	return tpmSignatureDER(c.Signature, c.CertInfo, ak)
}

func checkPubArea(b []byte, credKey *ecdsa.PublicKey) (*tpm2.TPMTPublic, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](b)
	if err != nil {
		return nil, fmt.Errorf("attestation: TPM pubArea: %w", err)
	}
	params, err := pub.Parameters.ECCDetail()
	if err != nil || params.CurveID != tpm2.TPMECCNistP256 {
		return nil, errors.New("attestation: TPM pubArea is not an ECC P-256 key")
	}
	point, err := pub.Unique.ECC()
	if err != nil {
		return nil, fmt.Errorf("attestation: TPM pubArea: %w", err)
	}
	want, _ := credKey.Bytes() // a valid P-256 key always encodes
	if !bytes.Equal(point.X.Buffer, want[1:33]) || !bytes.Equal(point.Y.Buffer, want[33:]) {
		return nil, errors.New("attestation: TPM pubArea is not the credential key in authenticatorData")
	}
	return pub, nil
}

func checkCertInfo(b []byte, pub *tpm2.TPMTPublic, extraData []byte) error {
	info, err := tpm2.Unmarshal[tpm2.TPMSAttest](b)
	if err != nil {
		return fmt.Errorf("attestation: TPM certInfo: %w", err)
	}
	if info.Magic != tpm2.TPMGeneratedValue || info.Type != tpm2.TPMSTAttestCertify {
		return errors.New("attestation: TPM certInfo is not a TPM-generated certification")
	}
	if !bytes.Equal(info.ExtraData.Buffer, extraData) {
		return errors.New("attestation: TPM certInfo extraData is not the hash of attToBeSigned")
	}
	certified, err := info.Attested.Certify()
	if err != nil {
		return fmt.Errorf("attestation: TPM certInfo: %w", err)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil || !bytes.Equal(certified.Name.Buffer, name.Buffer) {
		return errors.New("attestation: TPM certInfo certifies another key than pubArea")
	}
	return nil
}

// tpmSignatureDER returns the AK's signature over certInfo in DER, after
// verifying it. b is DER already, or a TPMT_SIGNATURE (ECDSA, SHA-256),
// which starts with TPM_ALG_ECDSA (0x0018) where DER starts with 0x30.
func tpmSignatureDER(b, certInfo []byte, ak crypto.PublicKey) ([]byte, error) {
	akEC, ok := ak.(*ecdsa.PublicKey)
	if !ok || akEC.Curve != elliptic.P256() {
		return nil, errors.New("attestation: TPM attestation key is not ECDSA P-256")
	}
	der := b
	if len(b) > 0 && b[0] != 0x30 {
		var err error
		if der, err = tpmtSignatureDER(b); err != nil {
			return nil, err
		}
	}
	digest := sha256.Sum256(certInfo)
	if !ecdsa.VerifyASN1(akEC, digest[:], der) {
		return nil, errors.New("attestation: TPM signature does not verify with the attestation key")
	}
	return der, nil
}

func tpmtSignatureDER(b []byte) ([]byte, error) {
	sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](b)
	if err != nil {
		return nil, fmt.Errorf("attestation: TPM signature: %w", err)
	}
	ecc, err := sig.Signature.ECDSA()
	if err != nil || sig.SigAlg != tpm2.TPMAlgECDSA || ecc.Hash != tpm2.TPMAlgSHA256 {
		return nil, errors.New("attestation: TPM signature is not ECDSA with SHA-256")
	}
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(ecc.SignatureR.Buffer), new(big.Int).SetBytes(ecc.SignatureS.Buffer),
	})
}

// IssueAIKCertificate issues an AIK certificate for the TPM attestation key
// ak under the TPM attestation statement certificate requirements (WebAuthn
// §8.3.1): version 3; an empty subject; a critical subjectAltName holding
// the TPM manufacturer, model and firmware version as a directoryName (TCG
// EK Credential Profile §3.2.9); extended key usage tcg-kp-AIKCertificate
// (2.23.133.8.3); basic constraints CA=false; and the non-critical
// id-fido-gen-ce-aaguid extension. The root signs it; it returns DER.
func (a *Authority) IssueAIKCertificate(ak crypto.PublicKey, dev TPMDevice, aaguid [16]byte) ([]byte, error) {
	san, err := tpmSubjectAltName(dev)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDTCGKpAIKCertificate},
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{san, aaguidExtension(aaguid)},
	}
	cert, err := issue(tmpl, ak, a.root, a.rootKey)
	if err != nil {
		return nil, err
	}
	return cert.Raw, nil
}

// tpmAttribute is an AttributeTypeAndValue whose value is a UTF8String, as
// the TCG EK Credential Profile §3.1.2 defines the TPM attributes.
type tpmAttribute struct {
	Type  asn1.ObjectIdentifier
	Value string `asn1:"utf8"`
}

// tpmAttributeSET is a RelativeDistinguishedName (encoding/asn1 encodes a
// slice type named ...SET as a SET OF).
type tpmAttributeSET []tpmAttribute

func tpmSubjectAltName(dev TPMDevice) (pkix.Extension, error) {
	if dev.Model == "" {
		return pkix.Extension{}, errors.New("attestation: the TPM reported no model (vendor string)")
	}
	name, err := asn1.Marshal([]tpmAttributeSET{
		{{oidTPMManufacturer, fmt.Sprintf("id:%08X", dev.Manufacturer)}},
		{{oidTPMModel, dev.Model}},
		{{oidTPMVersion, fmt.Sprintf("id:%08X", dev.FirmwareVersion)}},
	})
	if err != nil {
		return pkix.Extension{}, err
	}
	// GeneralName directoryName is [4], explicit because Name is a CHOICE.
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSubjectAltName, Critical: true, Value: san}, nil
}
