package pinuv

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// TestSharedSecretAgrees: platform and authenticator derive the same secret,
// and what one side encrypts and authenticates the other accepts.
func TestSharedSecretAgrees(t *testing.T) {
	for _, p := range []Protocol{One{}, Two{}} {
		auth, _ := ecdh.P256().GenerateKey(rand.Reader)
		mine, platform, err := Encapsulate(p, auth.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		authenticator, err := Shared(p, auth, mine)
		if err != nil || !bytes.Equal(platform, authenticator) {
			t.Fatalf("protocol %d: shared secrets differ", p.Version())
		}
		pin := make([]byte, 64)
		copy(pin, "1234")
		ct, err := p.Encrypt(platform, pin)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := p.Decrypt(authenticator, ct)
		if err != nil || !bytes.Equal(pt, pin) {
			t.Fatalf("protocol %d: decrypt: %v", p.Version(), err)
		}
		mac := p.Authenticate(platform, ct)
		if !p.Verify(authenticator, ct, mac) {
			t.Fatalf("protocol %d: MAC does not verify", p.Version())
		}
		mac[0] ^= 1
		if p.Verify(authenticator, ct, mac) {
			t.Fatalf("protocol %d: a changed MAC verifies", p.Version())
		}
		if _, err := p.Decrypt(authenticator, ct[:len(ct)-1]); err == nil {
			t.Fatalf("protocol %d: a truncated ciphertext decrypts", p.Version())
		}
	}
}

// TestProtocolTwoKDF pins HKDF-SHA-256 with a zero salt and the CTAP info
// strings (CTAP 2.1 §6.5.7): Z of all 0x01 bytes, computed independently with
// Python's cryptography HKDF.
func TestProtocolTwoKDF(t *testing.T) {
	z := bytes.Repeat([]byte{1}, 32)
	k, err := Two{}.KDF(z)
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 64 {
		t.Fatalf("%d bytes", len(k))
	}
	one, _ := One{}.KDF(z)
	if len(one) != 32 || bytes.Equal(one, k[:32]) {
		t.Fatal("protocol one's KDF is not plain SHA-256 of Z")
	}
	if got, want := hex.EncodeToString(k[:4]), "3fcaf997"; got != want {
		t.Fatalf("HMAC key starts %s, want %s", got, want)
	}
	if len(Two{}.Authenticate(k, []byte("x"))) != 32 || len(One{}.Authenticate(one, []byte("x"))) != 16 {
		t.Fatal("MAC lengths")
	}
}
