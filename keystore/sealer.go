package keystore

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
)

// This file holds the sealing shared by the file, keyring and memory
// backends: per-purpose AES-256-GCM keys derived with HKDF-SHA256 from one
// 256-bit master key. The backends differ only in where the master key lives.
//
// A sealed blob is: version byte (sealVersion) | 12-byte random nonce |
// AES-GCM ciphertext and tag. The associated data binds the blob to its
// purpose, the format version and the credential ID, so a blob moved to
// another credential, or a secret passed off as a key, fails to open.

const (
	masterKeySize = 32
	sealVersion   = 1
	nonceSize     = 12
	scalarSize    = 32 // P-256 private scalar
)

// Purpose labels: HKDF info for the subkey, and the prefix of the associated data.
const (
	purposeKey    = "passkeyd/v1 credential private key"
	purposeSecret = "passkeyd/v1 credential secret"
)

// ErrSealedData reports a sealed blob that does not open: wrong credential ID,
// another master key, or damaged data.
var ErrSealedData = errors.New("keystore: sealed data does not open (wrong credential, wrong master key or damaged)")

// aeadSealer implements the Sealer methods for the master-key backends.
type aeadSealer struct {
	keys    cipher.AEAD // seals private keys
	secrets cipher.AEAD // seals extension secrets
	opened  signerCache
}

// newAEADSealer derives the subkeys from master. The caller may clear master afterwards.
func newAEADSealer(master []byte) (*aeadSealer, error) {
	if len(master) != masterKeySize {
		return nil, fmt.Errorf("keystore: master key is %d bytes, want %d", len(master), masterKeySize)
	}
	keys, err := newPurposeAEAD(master, purposeKey)
	if err != nil {
		return nil, err
	}
	secrets, err := newPurposeAEAD(master, purposeSecret)
	if err != nil {
		return nil, err
	}
	return &aeadSealer{keys: keys, secrets: secrets}, nil
}

func newPurposeAEAD(master []byte, purpose string) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, master, nil, purpose, 32)
	if err != nil {
		return nil, err
	}
	defer clear(sub)
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NewKey creates a P-256 key, seals its private scalar bound to credID, and
// returns the sealed blob with the key as a [crypto.Signer].
func (s *aeadSealer) NewKey(credID []byte) ([]byte, crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.sealKey(credID, k)
	if err != nil {
		return nil, nil, err
	}
	return sealed, k, nil
}

// Signer opens a key sealed by NewKey or ImportKey for credID. Recently
// opened keys are kept, so signing with the same credential again costs
// no more than the signature.
func (s *aeadSealer) Signer(credID, sealed []byte) (crypto.Signer, error) {
	if k := s.opened.get(credID, sealed); k != nil {
		return k, nil
	}
	k, err := s.openKey(credID, sealed)
	if err != nil {
		return nil, err
	}
	s.opened.put(credID, sealed, k)
	return k, nil
}

// Seal protects a small secret bound to credID.
func (s *aeadSealer) Seal(credID, plaintext []byte) ([]byte, error) {
	return aeadSeal(s.secrets, purposeSecret, credID, plaintext), nil
}

// Open reverses Seal; it fails with [ErrSealedData] if the blob was not
// sealed for credID by this master key.
func (s *aeadSealer) Open(credID, sealed []byte) ([]byte, error) {
	return aeadOpen(s.secrets, purposeSecret, credID, sealed)
}

// ImportKey seals an existing P-256 private key given as PKCS#8 DER
// (the WebDriver "Add Credential" operation). Other key types are refused.
func (s *aeadSealer) ImportKey(credID, pkcs8 []byte) ([]byte, error) {
	k, err := parseP256PKCS8(pkcs8)
	if err != nil {
		return nil, err
	}
	return s.sealKey(credID, k)
}

// parseP256PKCS8 parses a PKCS#8 private key and accepts only ECDSA P-256:
// what every sealer's ImportKey takes.
func parseP256PKCS8(pkcs8 []byte) (*ecdsa.PrivateKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("keystore: import key: %v", err)
	}
	k, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("keystore: import key: only P-256 ECDSA keys are supported")
	}
	return k, nil
}

// exportKey reveals a sealed key as PKCS#8 DER; only test backends expose it.
func (s *aeadSealer) exportKey(credID, sealed []byte) ([]byte, error) {
	k, err := s.openKey(credID, sealed)
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKCS8PrivateKey(k)
}

func (s *aeadSealer) sealKey(credID []byte, k *ecdsa.PrivateKey) ([]byte, error) {
	d, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	defer clear(d)
	return aeadSeal(s.keys, purposeKey, credID, d), nil
}

// openKey rebuilds the private key from its scalar. ParseRawPrivateKey
// derives the public point (one base-point multiplication); callers that
// sign often keep the returned signer.
func (s *aeadSealer) openKey(credID, sealed []byte) (*ecdsa.PrivateKey, error) {
	d, err := aeadOpen(s.keys, purposeKey, credID, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(d)
	if len(d) != scalarSize {
		return nil, ErrSealedData
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, fmt.Errorf("keystore: sealed key: %v", err)
	}
	return k, nil
}

func aeadSeal(aead cipher.AEAD, purpose string, credID, plaintext []byte) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return aead.Seal(out, out[1:1+nonceSize], plaintext, associatedData(purpose, credID))
}

func aeadOpen(aead cipher.AEAD, purpose string, credID, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrSealedData
	}
	nonce, ct := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	pt, err := aead.Open(nil, nonce, ct, associatedData(purpose, credID))
	if err != nil {
		return nil, ErrSealedData
	}
	return pt, nil
}

// associatedData is purpose | 0x00 | version | credID. The purpose labels
// contain no zero byte, so the split is unambiguous.
func associatedData(purpose string, credID []byte) []byte {
	ad := make([]byte, 0, len(purpose)+2+len(credID))
	ad = append(ad, purpose...)
	ad = append(ad, 0, sealVersion)
	return append(ad, credID...)
}

// newMasterKey returns a fresh random master key.
func newMasterKey() []byte {
	k := make([]byte, masterKeySize)
	rand.Read(k)
	return k
}

// signerCache keeps recently opened keys. Rebuilding a key from its scalar
// costs a base-point multiplication (a third of a signature), and Go's
// ecdsa caches its internal form per key, so the same *ecdsa.PrivateKey
// signs faster the second time. Entries are keyed by the sealed blob, which
// is unique per key, and checked against the credential ID; when the cache
// is full one entry is dropped at random.
type signerCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct {
	credID string
	key    *ecdsa.PrivateKey
}

const signerCacheSize = 4096

func (c *signerCache) get(credID, sealed []byte) *ecdsa.PrivateKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[string(sealed)]; ok && e.credID == string(credID) {
		return e.key
	}
	return nil
}

func (c *signerCache) put(credID, sealed []byte, k *ecdsa.PrivateKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedKey)
	}
	if len(c.m) >= signerCacheSize {
		for victim := range c.m {
			delete(c.m, victim)
			break
		}
	}
	c.m[string(sealed)] = cachedKey{credID: string(credID), key: k}
}
