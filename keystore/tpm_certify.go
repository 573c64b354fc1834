package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// attestationKey is the loaded attestation key.
type attestationKey struct {
	handle tpm2.NamedHandle
	public *ecdsa.PublicKey
}

// attestationKeyTemplate is an ECC P-256 restricted signing key: it signs
// only TPM-generated structures (TPMS_ATTEST), never outside digests that
// could mimic one. Created as a primary key under the owner hierarchy it is
// the same key after every restart, without being stored anywhere.
var attestationKeyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme:    ecdsaSHA256Scheme(),
		CurveID:   tpm2.TPMECCNistP256,
		KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
		Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
	}),
}

// AttestationPublic returns the public key of the TPM attestation key that
// Certify signs with, an *ecdsa.PublicKey on P-256. The key is created on
// first use and stays loaded until Close.
func (s *TPMSealer) AttestationPublic() (crypto.PublicKey, error) {
	var pub *ecdsa.PublicKey
	err := s.locked(func() error {
		ak, err := s.attestationKey()
		if err == nil {
			pub = ak.public
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return pub, nil
}

// ErrNotTPMSigner means CertifyKey was given a signer that is not a
// credential key made by this TPMSealer (NewKey or Signer): only keys that
// live in this TPM can be certified by it.
var ErrNotTPMSigner = errors.New("keystore: the key is not a credential key of this TPM keystore")

// Certify has the attestation key vouch, with TPM2_Certify, that the
// credential key in sealed lives in this TPM. It returns the TPMS_ATTEST
// structure (certInfo of the WebAuthn "tpm" format; its extraData is
// qualifyingData) and the attestation key's ECDSA-SHA256 signature over it
// in ASN.1 DER.
func (s *TPMSealer) Certify(credID, sealed, qualifyingData []byte) (attest, signature []byte, err error) {
	err = s.locked(func() error {
		k, err := s.decodeCredentialKey(credID, sealed)
		if err != nil {
			return err
		}
		attest, signature, err = s.certifyKey(k, qualifyingData)
		return err
	})
	return attest, signature, err
}

// CertifyKey is Certify for a signer that NewKey or Signer returned, as
// the WebAuthn "tpm" attestation format needs it at registration, before
// the blob is stored: key must be this sealer's TPM credential key for
// credID, or CertifyKey fails with [ErrNotTPMSigner] (another backend's
// key, another TPMSealer's) or [ErrSealedData] (a key of another
// credential). It returns the key's TPMT_PUBLIC (pubArea), the TPMS_ATTEST
// (certInfo, with qualifyingData as extraData) and the attestation key's
// ECDSA-SHA256 signature over it in ASN.1 DER.
func (s *TPMSealer) CertifyKey(credID []byte, key crypto.Signer, qualifyingData []byte) (pubArea, certInfo, signature []byte, err error) {
	g, ok := key.(*tpmSigner)
	if !ok || g.s != s {
		return nil, nil, nil, fmt.Errorf("%w (got a %T)", ErrNotTPMSigner, key)
	}
	err = s.locked(func() error {
		// Re-check the binding: the signer's blob must be credID's.
		k, err := s.decodeCredentialKey(credID, g.key.encode())
		if err != nil {
			return err
		}
		certInfo, signature, err = s.certifyKey(k, qualifyingData)
		return err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return g.key.pub.Bytes(), certInfo, signature, nil
}

// certifyKey loads k, certifies it with the attestation key and flushes
// it. The caller holds s.mu.
func (s *TPMSealer) certifyKey(k *tpmKey, qualifyingData []byte) (attest, signature []byte, err error) {
	ak, err := s.attestationKey()
	if err != nil {
		return nil, nil, err
	}
	err = s.load(k, func(h tpm2.NamedHandle) error {
		attest, signature, err = s.certify(h, ak.handle, qualifyingData)
		return err
	})
	return attest, signature, err
}

// CredentialPublicArea returns the TPMT_PUBLIC of the credential key in
// sealed (pubArea of the WebAuthn "tpm" format), after checking that the
// blob was made for credID.
func (s *TPMSealer) CredentialPublicArea(credID, sealed []byte) ([]byte, error) {
	var k *tpmKey
	err := s.locked(func() (err error) {
		k, err = s.decodeCredentialKey(credID, sealed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k.pub.Bytes(), nil
}

// attestationKey creates the attestation key on first use. The caller holds
// s.mu.
func (s *TPMSealer) attestationKey() (*attestationKey, error) {
	if s.ak != nil {
		return s.ak, nil
	}
	h, pub, err := s.createPrimary(attestationKeyTemplate)
	if err != nil {
		return nil, err
	}
	public, err := eccPublicKey(pub)
	if err != nil {
		s.flush(h.Handle)
		return nil, tpmError("TPM2_CreatePrimary(attestation key)", err)
	}
	s.ak = &attestationKey{handle: h, public: public}
	return s.ak, nil
}

// certify runs TPM2_Certify. The caller holds s.mu.
func (s *TPMSealer) certify(object, signer tpm2.NamedHandle, qualifyingData []byte) ([]byte, []byte, error) {
	rsp, err := (tpm2.Certify{
		ObjectHandle:   object,
		SignHandle:     signer,
		QualifyingData: tpm2.TPM2BData{Buffer: qualifyingData},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}).Execute(s.tpm)
	if err != nil {
		return nil, nil, tpmError("TPM2_Certify", err)
	}
	sig, err := ecdsaDER(&rsp.Signature)
	if err != nil {
		return nil, nil, err
	}
	return rsp.CertifyInfo.Bytes(), sig, nil
}
