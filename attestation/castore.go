package attestation

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// keyFile pairs a private key with its certificate, for saving and loading.
type keyFile struct {
	certName, keyName string
	cert              **x509.Certificate
	key               **ecdsa.PrivateKey
}

func (a *Authority) files() []keyFile {
	return []keyFile{
		{rootCertFile, rootKeyFile, &a.root, &a.rootKey},
		{attCertFile, attKeyFile, &a.att, &a.attKey},
		{androidCertFile, androidKeyFile, &a.android, &a.androidKey},
	}
}

// save writes the CA into dir (0700), every file 0600, each one atomically.
func (a *Authority) save(dir string, p KeyProtector) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("attestation: failed to create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("attestation: failed to restrict %s: %w", dir, err)
	}
	for _, f := range a.files() {
		keyPEM, err := encodeKey(f.keyName, *f.key, p)
		if err != nil {
			return err
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: (*f.cert).Raw})
		if err := writeFile(dir, f.keyName, keyPEM); err != nil {
			return err
		}
		if err := writeFile(dir, f.certName, certPEM); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("attestation: failed to write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("attestation: failed to write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("attestation: failed to write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("attestation: failed to write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("attestation: failed to write %s: %w", name, err)
	}
	return nil
}

func encodeKey(name string, key *ecdsa.PrivateKey, p KeyProtector) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to encode %s: %w", name, err)
	}
	if p == nil {
		return pem.EncodeToMemory(&pem.Block{Type: pemPlainKey, Bytes: der}), nil
	}
	sealed, err := p.Seal(keyID(name), der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to seal %s: %w", name, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemSealedKey, Bytes: sealed}), nil
}

// keyID binds a sealed key to the file it belongs in.
func keyID(name string) []byte { return []byte("passkeyd attestation CA " + name) }

// LoadCA reads the local attestation CA that InitCA wrote into dir. It
// fails with ErrNoCA if there is none; p opens keys that were sealed with a
// KeyProtector and may be nil if they were not.
func LoadCA(dir string, p KeyProtector) (*Authority, error) {
	a := &Authority{chains: map[[16]byte][]byte{}}
	for _, f := range a.files() {
		var err error
		if *f.cert, err = readCert(dir, f.certName); err != nil {
			return nil, err
		}
		if *f.key, err = readKey(dir, f.keyName, p); err != nil {
			return nil, err
		}
		if !(*f.key).PublicKey.Equal((*f.cert).PublicKey) {
			return nil, fmt.Errorf("attestation: %s does not belong to %s", f.keyName, f.certName)
		}
	}
	if err := a.checkChain(); err != nil {
		return nil, err
	}
	aaguid, ok := certAAGUID(a.att)
	if !ok {
		return nil, fmt.Errorf("attestation: %s has no AAGUID extension", attCertFile)
	}
	a.chains[aaguid] = a.att.Raw
	return a, nil
}

func (a *Authority) checkChain() error {
	if err := a.root.CheckSignatureFrom(a.root); err != nil {
		return fmt.Errorf("attestation: %s is not a self-signed CA: %w", rootCertFile, err)
	}
	for _, c := range []*x509.Certificate{a.att, a.android} {
		if err := c.CheckSignatureFrom(a.root); err != nil {
			return fmt.Errorf("attestation: %q was not issued by the root: %w", c.Subject.CommonName, err)
		}
	}
	return nil
}

func readPEM(dir, name, wantType string) (*pem.Block, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s is missing)", ErrNoCA, filepath.Join(dir, name))
	}
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to read %s: %w", name, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || (wantType != "" && block.Type != wantType) {
		return nil, fmt.Errorf("attestation: %s is not a PEM %s", name, wantType)
	}
	return block, nil
}

func readCert(dir, name string) (*x509.Certificate, error) {
	block, err := readPEM(dir, name, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to parse %s: %w", name, err)
	}
	return cert, nil
}

func readKey(dir, name string, p KeyProtector) (*ecdsa.PrivateKey, error) {
	block, err := readPEM(dir, name, "")
	if err != nil {
		return nil, err
	}
	der := block.Bytes
	switch {
	case block.Type == pemSealedKey && p == nil:
		return nil, fmt.Errorf("attestation: %s is sealed and no key protector was given", name)
	case block.Type == pemSealedKey:
		if der, err = p.Open(keyID(name), block.Bytes); err != nil {
			return nil, fmt.Errorf("attestation: failed to open %s: %w", name, err)
		}
		defer clear(der)
	case block.Type != pemPlainKey:
		return nil, fmt.Errorf("attestation: %s holds a %q PEM block, not a private key", name, block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("attestation: failed to parse %s: %w", name, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("attestation: %s is not an ECDSA key", name)
	}
	return ec, nil
}
