package keystore

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// importedCredentialTemplate is the public template of a credential key
// that was made outside the TPM and brought in by ImportKey. It is
// credentialTemplate without fixedTPM, fixedParent and sensitiveDataOrigin:
// TPM2_Import refuses an object with fixedTPM or fixedParent (TPM 2.0 Part 3
// §13.3), and the TPM did not generate the key. The key still cannot be
// copied off the TPM: TPM2_Duplicate needs the DUP role, which only a
// policy session whose digest equals authPolicy grants, and authPolicy is
// the credential HMAC (see credentialPolicy), which no policy reaches.
func importedCredentialTemplate(policy []byte) tpm2.TPMTPublic {
	t := credentialTemplate(policy)
	t.ObjectAttributes.FixedTPM = false
	t.ObjectAttributes.FixedParent = false
	t.ObjectAttributes.SensitiveDataOrigin = false
	return t
}

// ImportKey brings an existing ECDSA P-256 private key, PKCS#8 DER, into
// the TPM under the storage root key (the WebDriver "Add Credential"
// operation). It returns a blob in NewKey's format with the same binding
// to credID, which Signer, Certify and CertifyKey take like NewKey's. The
// key reaches the TPM as a duplication blob for the SRK: the sensitive area
// under an outer wrapper whose seed is encrypted to the SRK's ECC key, no
// inner wrapper (TPM 2.0 Part 1 §23.3). The TPM re-wraps it for itself
// (TPM2_Import), and the result is loaded once to make sure it opens.
// Other key types are refused.
func (s *TPMSealer) ImportKey(credID, pkcs8 []byte) ([]byte, error) {
	key, err := parseP256PKCS8(pkcs8)
	if err != nil {
		return nil, err
	}
	var k *tpmKey
	err = s.locked(func() (err error) {
		if k, err = s.importCredentialKey(credID, key); err != nil {
			return err
		}
		return s.load(k, func(tpm2.NamedHandle) error { return nil })
	})
	if err != nil {
		return nil, err
	}
	return k.encode(), nil
}

// importCredentialKey wraps key for the SRK and runs TPM2_Import. The
// caller holds s.mu.
func (s *TPMSealer) importCredentialKey(credID []byte, key *ecdsa.PrivateKey) (*tpmKey, error) {
	policy := s.credentialPolicy(credID)
	public, err := importedPublicArea(policy, key)
	if err != nil {
		return nil, err
	}
	name, err := tpm2.ObjectName(public)
	if err != nil {
		return nil, fmt.Errorf("keystore: import key: %v", err)
	}
	sensitive, err := eccSensitive(key)
	if err != nil {
		return nil, err
	}
	defer clear(sensitive)
	srk, err := tpm2.ImportEncapsulationKey(s.srkPublic)
	if err != nil {
		return nil, fmt.Errorf("keystore: import key: the storage root key: %v", err)
	}
	duplicate, seed, err := tpm2.CreateDuplicate(rand.Reader, srk, name.Buffer, sensitive)
	if err != nil {
		return nil, fmt.Errorf("keystore: import key: %v", err)
	}
	rsp, err := (tpm2.Import{
		ParentHandle: s.srk,
		ObjectPublic: tpm2.New2B(*public),
		Duplicate:    tpm2.TPM2BPrivate{Buffer: duplicate},
		InSymSeed:    tpm2.TPM2BEncryptedSecret{Buffer: seed},
		Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}).Execute(s.tpm)
	if err != nil {
		return nil, tpmError("TPM2_Import(credential key)", err)
	}
	return newCredentialKey(policy, tpm2.Marshal(public), rsp.OutPrivate.Buffer)
}

// importedPublicArea is importedCredentialTemplate with key's public point.
func importedPublicArea(policy []byte, key *ecdsa.PrivateKey) (*tpm2.TPMTPublic, error) {
	point, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("keystore: import key: %v", err)
	}
	public := importedCredentialTemplate(policy)
	public.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: point[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: point[33:]},
	})
	return &public, nil
}

// eccSensitive is the TPMT_SENSITIVE of key: an empty auth value, like
// NewKey's keys, and a random obfuscation value of the name algorithm's
// size, as TPM2_Create gives its keys. The caller clears it.
func eccSensitive(key *ecdsa.PrivateKey) ([]byte, error) {
	d, err := key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("keystore: import key: %v", err)
	}
	defer clear(d)
	obfuscation := make([]byte, sha256.Size)
	rand.Read(obfuscation)
	return tpm2.Marshal(tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgECC,
		SeedValue:     tpm2.TPM2BDigest{Buffer: obfuscation},
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgECC, &tpm2.TPM2BECCParameter{Buffer: d}),
	}), nil
}
