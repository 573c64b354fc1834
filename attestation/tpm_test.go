package attestation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// softTPM is a TPMCertifier in software: it makes the TPM2_Certify
// structures with go-tpm's types and signs them with an in-memory AK, so
// the tpm format can be tested where no TPM is reachable. The swtpm test
// does the same through a real TPM.
type softTPM struct {
	ak  *ecdsa.PrivateKey
	dev TPMDevice
	der bool // return the signature in DER rather than as a TPMT_SIGNATURE

	// Faults: certify another key or other qualifying data, or spoil the result.
	otherKey  *ecdsa.PublicKey
	otherData []byte
	spoil     func(*TPMCertification)
}

var _ TPMCertifier = (*softTPM)(nil)

func newSoftTPM(t *testing.T) *softTPM {
	t.Helper()
	ak, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &softTPM{ak: ak, dev: TPMDevice{Manufacturer: 0x49424D00, Model: "SW TPM", FirmwareVersion: 0x20191023}}
}

func (s *softTPM) AttestationKey() (crypto.PublicKey, TPMDevice, error) {
	return &s.ak.PublicKey, s.dev, nil
}

func (s *softTPM) Certify(_ []byte, key crypto.Signer, qualifyingData []byte) (*TPMCertification, error) {
	certified := key.Public().(*ecdsa.PublicKey)
	if s.otherKey != nil {
		certified = s.otherKey
	}
	if s.otherData != nil {
		qualifyingData = s.otherData
	}
	c, err := s.certify(certified, qualifyingData)
	if err == nil && s.spoil != nil {
		s.spoil(c)
	}
	return c, err
}

func (s *softTPM) certify(certified *ecdsa.PublicKey, qualifyingData []byte) (*TPMCertification, error) {
	pub := eccPublicArea(certified)
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		return nil, err
	}
	certInfo := tpm2.Marshal(tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: []byte{0, 0x0b}},
		ExtraData:       tpm2.TPM2BData{Buffer: qualifyingData},
		FirmwareVersion: uint64(s.dev.FirmwareVersion),
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify,
			&tpm2.TPMSCertifyInfo{Name: *name, QualifiedName: *name}),
	})
	digest := sha256.Sum256(certInfo)
	if s.der {
		sig, err := ecdsa.SignASN1(rand.Reader, s.ak, digest[:])
		return &TPMCertification{PubArea: tpm2.Marshal(pub), CertInfo: certInfo, Signature: sig}, err
	}
	r, ss, err := ecdsa.Sign(rand.Reader, s.ak, digest[:])
	if err != nil {
		return nil, err
	}
	sig := tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgECDSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash:       tpm2.TPMAlgSHA256,
			SignatureR: tpm2.TPM2BECCParameter{Buffer: r.FillBytes(make([]byte, 32))},
			SignatureS: tpm2.TPM2BECCParameter{Buffer: ss.FillBytes(make([]byte, 32))},
		}),
	})
	return &TPMCertification{PubArea: tpm2.Marshal(pub), CertInfo: certInfo, Signature: sig}, nil
}

// eccPublicArea is the TPMT_PUBLIC of a P-256 ECDSA signing key.
func eccPublicArea(pub *ecdsa.PublicKey) tpm2.TPMTPublic {
	point, _ := pub.Bytes()
	tmpl := credentialKeyTemplate()
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: point[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: point[33:]},
	})
	return tmpl
}

// credentialKeyTemplate is a non-restricted P-256 ECDSA-SHA256 signing key
// bound to the TPM, as a TPM keystore would create for a passkey.
func credentialKeyTemplate() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
			UserWithAuth: true, SignEncrypt: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
			Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
		}),
	}
}

// TestTPMStatement checks every field the tpm verification procedure
// (WebAuthn §8.3) reads, for both signature encodings a backend may return.
func TestTPMStatement(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	for name, der := range map[string]bool{"TPMT_SIGNATURE": false, "DER": true} {
		t.Run(name, func(t *testing.T) {
			soft := newSoftTPM(t)
			soft.der = der
			cred := newCred(t)
			in, _ := newInput(t, DefaultAAGUID, cred, "challenge")
			st, err := (&TPM{CA: ca, Certifier: soft}).Attest(in)
			if err != nil {
				t.Fatal(err)
			}
			checkTPMStatement(t, ca, st, in, soft.dev)
		})
	}
}

// checkTPMStatement checks a tpm statement for in, made by a TPM that
// reports dev.
func checkTPMStatement(t *testing.T, ca *Authority, st Statement, in Input, dev TPMDevice) {
	t.Helper()
	m := decodeStmt(t, st.AttStmt)
	want := map[string]bool{"ver": true, "alg": true, "x5c": true, "sig": true, "certInfo": true, "pubArea": true}
	if st.Format != "tpm" || !maps.Equal(stmtKeys(m), want) {
		t.Fatalf("statement %q %v, want tpm %v", st.Format, stmtKeys(m), want)
	}
	if m["ver"] != "2.0" || m["alg"] != int64(-7) {
		t.Errorf("ver %v alg %v, want 2.0 -7", m["ver"], m["alg"])
	}
	pubArea, _ := m["pubArea"].([]byte)
	certInfo, _ := m["certInfo"].([]byte)
	pub := checkTPMPubArea(t, pubArea, in.CredentialKey.Public().(*ecdsa.PublicKey))
	checkTPMCertInfo(t, certInfo, pub, in)
	certs := x5c(t, m)
	sig, _ := m["sig"].([]byte)
	verifySig(t, certs[0].PublicKey, sig, certInfo)
	checkAIKCert(t, certs[0], in.AAGUID, dev)
	verifyChain(t, ca.Root(), certs[0], certs[1:]...)
}

func checkTPMPubArea(t *testing.T, b []byte, cred *ecdsa.PublicKey) *tpm2.TPMTPublic {
	t.Helper()
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](b)
	if err != nil {
		t.Fatal(err)
	}
	params, err := pub.Parameters.ECCDetail()
	if err != nil || params.CurveID != tpm2.TPMECCNistP256 {
		t.Fatalf("pubArea is not a P-256 key: %v", err)
	}
	point, _ := pub.Unique.ECC()
	want, _ := cred.Bytes()
	if !bytes.Equal(point.X.Buffer, want[1:33]) || !bytes.Equal(point.Y.Buffer, want[33:]) {
		t.Error("pubArea unique is not the credential public key of authData")
	}
	return pub
}

func checkTPMCertInfo(t *testing.T, b []byte, pub *tpm2.TPMTPublic, in Input) {
	t.Helper()
	info, err := tpm2.Unmarshal[tpm2.TPMSAttest](b)
	if err != nil {
		t.Fatal(err)
	}
	if info.Magic != tpm2.TPMGeneratedValue || info.Type != tpm2.TPMSTAttestCertify {
		t.Errorf("certInfo magic %x type %x, want TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY", info.Magic, info.Type)
	}
	attToBeSigned := sha256.Sum256(append(append([]byte(nil), in.AuthData...), in.ClientDataHash...))
	if !bytes.Equal(info.ExtraData.Buffer, attToBeSigned[:]) {
		t.Error("certInfo extraData is not SHA-256(authData ‖ clientDataHash)")
	}
	certified, err := info.Attested.Certify()
	if err != nil {
		t.Fatal(err)
	}
	name, _ := tpm2.ObjectName(pub)
	if !bytes.Equal(certified.Name.Buffer, name.Buffer) {
		t.Error("certInfo attested name is not the name of pubArea")
	}
}

// checkAIKCert checks the TPM attestation statement certificate
// requirements of WebAuthn §8.3.1.
func checkAIKCert(t *testing.T, c *x509.Certificate, aaguid [16]byte, dev TPMDevice) {
	t.Helper()
	if c.Version != 3 || !bytes.Equal(c.RawSubject, []byte{0x30, 0x00}) {
		t.Errorf("version %d subject %x, want 3 and empty", c.Version, c.RawSubject)
	}
	if !c.BasicConstraintsValid || c.IsCA {
		t.Error("basic constraints are not CA=false")
	}
	if !slices.ContainsFunc(c.UnknownExtKeyUsage, func(o asn1.ObjectIdentifier) bool { return o.Equal(asn1.ObjectIdentifier{2, 23, 133, 8, 3}) }) {
		t.Errorf("EKU %v lacks tcg-kp-AIKCertificate", c.UnknownExtKeyUsage)
	}
	got := aikSAN(t, c)
	want := map[string]string{"2.23.133.2.1": fmt.Sprintf("id:%08X", dev.Manufacturer), "2.23.133.2.2": dev.Model, "2.23.133.2.3": fmt.Sprintf("id:%08X", dev.FirmwareVersion)}
	if !maps.Equal(got, want) {
		t.Errorf("SAN attributes %v, want %v", got, want)
	}
	checkAAGUIDExtension(t, c, aaguid)
	checkNoRevocationURLs(t, c)
}

// aikSAN returns the TPM attributes of the critical subjectAltName's
// directoryName, by OID.
func aikSAN(t *testing.T, c *x509.Certificate) map[string]string {
	t.Helper()
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		if !ext.Critical {
			t.Error("subjectAltName of an empty subject is not critical")
		}
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(names) != 1 || names[0].Tag != 4 {
			t.Fatalf("SAN is not one directoryName: %v", err)
		}
		var dn pkix.RDNSequence
		if _, err := asn1.Unmarshal(names[0].Bytes, &dn); err != nil {
			t.Fatal(err)
		}
		attrs := map[string]string{}
		for _, rdn := range dn {
			for _, atv := range rdn {
				attrs[atv.Type.String()] = fmt.Sprint(atv.Value)
			}
		}
		return attrs
	}
	t.Fatal("no subjectAltName")
	return nil
}

// TestTPMRejectsBadCertification feeds the tpm format certifications a
// relying party would reject: Attest must refuse them too.
func TestTPMRejectsBadCertification(t *testing.T) {
	ca := testCA(t, DefaultAAGUID)
	other := newCred(t).signer.Public().(*ecdsa.PublicKey)
	for name, fault := range map[string]func(*softTPM){
		"other key":         func(s *softTPM) { s.otherKey = other },
		"other extraData":   func(s *softTPM) { s.otherData = make([]byte, 32) },
		"spoilt signature":  func(s *softTPM) { s.spoil = func(c *TPMCertification) { c.Signature[len(c.Signature)-3] ^= 1 } },
		"spoilt certInfo":   func(s *softTPM) { s.spoil = func(c *TPMCertification) { c.CertInfo[0] ^= 1 } },
		"truncated pubArea": func(s *softTPM) { s.spoil = func(c *TPMCertification) { c.PubArea = c.PubArea[:20] } },
		"no model":          func(s *softTPM) { s.dev.Model = "" },
	} {
		t.Run(name, func(t *testing.T) {
			soft := newSoftTPM(t)
			fault(soft)
			in, _ := newInput(t, DefaultAAGUID, newCred(t), "challenge")
			if _, err := (&TPM{CA: ca, Certifier: soft}).Attest(in); err == nil {
				t.Error("Attest accepted a bad certification")
			}
		})
	}
}
