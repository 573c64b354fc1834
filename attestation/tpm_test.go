package attestation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
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
	pub := eccPublicArea(key.Public().(*ecdsa.PublicKey))
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
