// Package pinuv implements PIN/UV auth protocols one and two (CTAP 2.1 §6.5.6,
// §6.5.7) for both sides: the authenticator (the provider) and the platform
// (the CLI, the load tool, tests).
package pinuv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Protocol is one PIN/UV auth protocol.
type Protocol interface {
	// Version is 1 or 2.
	Version() uint
	// KDF turns the ECDH x-coordinate Z into the shared secret.
	KDF(z []byte) ([]byte, error)
	// Encrypt and Decrypt use the AES part of a shared secret.
	Encrypt(shared, plaintext []byte) ([]byte, error)
	Decrypt(shared, ciphertext []byte) ([]byte, error)
	// Authenticate returns the MAC of msg under key (a shared secret or a
	// pinUvAuthToken); Verify checks one in constant time.
	Authenticate(key, msg []byte) []byte
	Verify(key, msg, mac []byte) bool
}

// ErrBadCiphertext means a ciphertext is not a whole number of AES blocks.
var ErrBadCiphertext = errors.New("pinuv: ciphertext length is not valid")

// ByVersion returns protocol 1 or 2, or nil.
func ByVersion(v uint) Protocol {
	switch v {
	case 1:
		return One{}
	case 2:
		return Two{}
	}
	return nil
}

// One is PIN/UV auth protocol one (CTAP 2.1 §6.5.6).
type One struct{}

// Version implements Protocol.
func (One) Version() uint { return 1 }

// KDF is SHA-256(Z).
func (One) KDF(z []byte) ([]byte, error) {
	h := sha256.Sum256(z)
	return h[:], nil
}

// Encrypt is AES-256-CBC with a zero IV.
func (One) Encrypt(shared, pt []byte) ([]byte, error) {
	return cbcEncrypt(shared, make([]byte, aes.BlockSize), pt)
}

// Decrypt is AES-256-CBC with a zero IV.
func (One) Decrypt(shared, ct []byte) ([]byte, error) {
	return cbcDecrypt(shared, make([]byte, aes.BlockSize), ct)
}

// Authenticate is the first 16 bytes of HMAC-SHA-256.
func (One) Authenticate(key, msg []byte) []byte { return mac(key, msg)[:16] }

// Verify implements Protocol.
func (p One) Verify(key, msg, sig []byte) bool {
	return len(sig) == 16 && hmac.Equal(p.Authenticate(key, msg), sig)
}

// Two is PIN/UV auth protocol two (CTAP 2.1 §6.5.7).
type Two struct{}

// Version implements Protocol.
func (Two) Version() uint { return 2 }

// KDF is HKDF-SHA-256 with a zero salt: the HMAC key ("CTAP2 HMAC key")
// followed by the AES key ("CTAP2 AES key"), 64 bytes.
func (Two) KDF(z []byte) ([]byte, error) {
	salt := make([]byte, 32)
	hmacKey, err := hkdf.Key(sha256.New, z, salt, "CTAP2 HMAC key", 32)
	if err != nil {
		return nil, err
	}
	aesKey, err := hkdf.Key(sha256.New, z, salt, "CTAP2 AES key", 32)
	if err != nil {
		return nil, err
	}
	return append(hmacKey, aesKey...), nil
}

// Encrypt is AES-256-CBC under the AES key with a random IV prepended.
func (Two) Encrypt(shared, pt []byte) ([]byte, error) {
	iv := make([]byte, aes.BlockSize)
	rand.Read(iv)
	ct, err := cbcEncrypt(aesKey(shared), iv, pt)
	if err != nil {
		return nil, err
	}
	return append(iv, ct...), nil
}

// Decrypt splits the IV off and decrypts under the AES key.
func (Two) Decrypt(shared, ct []byte) ([]byte, error) {
	if len(ct) < aes.BlockSize {
		return nil, ErrBadCiphertext
	}
	return cbcDecrypt(aesKey(shared), ct[:aes.BlockSize], ct[aes.BlockSize:])
}

// Authenticate is HMAC-SHA-256 under the first 32 bytes of key.
func (Two) Authenticate(key, msg []byte) []byte {
	if len(key) > 32 {
		key = key[:32]
	}
	return mac(key, msg)
}

// Verify implements Protocol.
func (p Two) Verify(key, msg, sig []byte) bool {
	return len(sig) == 32 && hmac.Equal(p.Authenticate(key, msg), sig)
}

// aesKey is the AES half of a protocol-two shared secret; a 32-byte key
// (a pinUvAuthToken, never used for encryption) is used whole.
func aesKey(shared []byte) []byte {
	if len(shared) == 64 {
		return shared[32:]
	}
	return shared
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func cbcEncrypt(key, iv, pt []byte) ([]byte, error) {
	if len(pt)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("pinuv: plaintext of %d bytes is not block aligned", len(pt))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, pt)
	return ct, nil
}

func cbcDecrypt(key, iv, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, ErrBadCiphertext
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(pt, ct)
	return pt, nil
}

// Shared computes the shared secret between our key and a peer's public key
// with protocol p. Both sides call it: the authenticator with its key
// agreement key, the platform with its ephemeral key.
func Shared(p Protocol, mine *ecdh.PrivateKey, peer *ecdh.PublicKey) ([]byte, error) {
	z, err := mine.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("pinuv: key agreement: %w", err)
	}
	return p.KDF(z)
}

// Encapsulate is the platform side of key agreement: a fresh ephemeral key,
// its public half to send, and the shared secret.
func Encapsulate(p Protocol, peer *ecdh.PublicKey) (*ecdh.PublicKey, []byte, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	shared, err := Shared(p, eph, peer)
	return eph.PublicKey(), shared, err
}
