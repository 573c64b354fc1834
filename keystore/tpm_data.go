package keystore

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2"
)

// TPMDataKeyFile is the file in the state directory that holds the
// TPM-sealed data key behind Seal and Open.
const TPMDataKeyFile = "tpm-datakey.blob"

// purposeTPMPolicy is the HKDF label of the key behind credential policies.
const purposeTPMPolicy = "passkeyd/v1 TPM credential policy"

// sealedDataTemplate is a keyed-hash object that holds caller-supplied data
// and can only be unsealed, inside this TPM, under this SRK.
var sealedDataTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgKeyedHash,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:     true,
		FixedParent:  true,
		UserWithAuth: true,
		NoDA:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
		Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
	}),
}

// loadDataKey unseals the data key from stateDir, creating and sealing a
// new one on first use.
func (s *TPMSealer) loadDataKey(stateDir string) error {
	path := filepath.Join(stateDir, TPMDataKeyFile)
	blob, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		blob, err = s.createDataKey(path)
	}
	if err != nil {
		return err
	}
	pub, priv, ok := splitTPMBlob(blob)
	if !ok {
		return fmt.Errorf("keystore: %s is damaged: it is not a TPM blob", path)
	}
	k := &tpmKey{pub: tpm2.BytesAs2B[tpm2.TPMTPublic](pub), priv: tpm2.TPM2BPrivate{Buffer: priv}}
	err = s.load(k, func(h tpm2.NamedHandle) error {
		rsp, err := (tpm2.Unseal{ItemHandle: h}).Execute(s.tpm)
		if err != nil {
			return tpmError("TPM2_Unseal", err)
		}
		defer clear(rsp.OutData.Buffer)
		return s.useDataKey(rsp.OutData.Buffer)
	})
	if errors.Is(err, errTPMRefused) {
		return fmt.Errorf("keystore: %s was sealed by another TPM, or this TPM was cleared since: "+
			"the passkeys of this state directory cannot be used with it", path)
	}
	return err
}

// createDataKey makes a random 256-bit key, seals it under the SRK and
// writes the wrapped blobs to path (0600). If another process wrote the
// file meanwhile, its key wins.
func (s *TPMSealer) createDataKey(path string) ([]byte, error) {
	key := newMasterKey()
	rsp, err := (tpm2.Create{
		ParentHandle: s.srk,
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: key}),
		}},
		InPublic: tpm2.New2B(sealedDataTemplate),
	}).Execute(s.tpm)
	clear(key)
	if err != nil {
		return nil, tpmError("TPM2_Create(data key)", err)
	}
	blob := (&tpmKey{pub: rsp.OutPublic, priv: rsp.OutPrivate}).encode()
	return blob, writeFileOnce(path, blob)
}

// writeFileOnce writes data to path, mode 0600, all or nothing; it leaves
// an existing file alone.
func writeFileOnce(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("keystore: failed to write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path) // unlike Rename, fails if path exists
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keystore: failed to write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Seal encrypts a small secret (hmac-secret CredRandom, largeBlobKey) for
// credID with AES-256-GCM, in the format the other sealers use (see
// sealer.go), under a subkey of the TPM-sealed data key.
func (s *TPMSealer) Seal(credID, plaintext []byte) ([]byte, error) {
	if err := s.locked(func() error { return nil }); err != nil {
		return nil, err
	}
	return aeadSeal(s.secrets, purposeSecret, credID, plaintext), nil
}

// Open decrypts what Seal made for credID. It fails with [ErrSealedData]
// for a blob sealed for another credential, by another state directory, or
// damaged.
func (s *TPMSealer) Open(credID, sealed []byte) ([]byte, error) {
	if err := s.locked(func() error { return nil }); err != nil {
		return nil, err
	}
	return aeadOpen(s.secrets, purposeSecret, credID, sealed)
}

// useDataKey derives what the sealer needs from the data key: the AEAD of
// Seal and Open, and the key of the credential policies.
func (s *TPMSealer) useDataKey(dataKey []byte) error {
	if len(dataKey) != masterKeySize {
		return errors.New("keystore: the TPM-sealed data key is not 256 bits")
	}
	secrets, err := newPurposeAEAD(dataKey, purposeSecret)
	if err != nil {
		return err
	}
	policyKey, err := hkdf.Key(sha256.New, dataKey, nil, purposeTPMPolicy, 32)
	if err != nil {
		return err
	}
	s.secrets, s.policyKey = secrets, policyKey
	return nil
}
