package keystore

import (
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// BenchmarkTPMSign measures signing with a credential key through the
// Signer (load, sign, flush, DER) next to the TPM's own TPM2_Sign of a key
// that stays loaded, on the same swtpm in the same run.
func BenchmarkTPMSign(b *testing.B) {
	s := openTestTPM(b, startSWTPM(b).Spec(), b.TempDir())
	blob, signer, err := s.NewKey(credID(1))
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("authenticatorData || clientDataHash"))
	b.Run("Signer.Sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := signer.Sign(nil, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Signer+Sign", func(b *testing.B) {
		for b.Loop() {
			g, err := s.Signer(credID(1), blob)
			if err == nil {
				_, err = g.Sign(nil, digest[:], crypto.SHA256)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw TPM2_Sign, key loaded", func(b *testing.B) {
		key := signer.(*tpmSigner).key
		s.locked(func() error {
			return s.load(key, func(h tpm2.NamedHandle) error {
				for b.Loop() {
					if _, err := s.signDigest(h, digest[:]); err != nil {
						b.Fatal(err)
					}
				}
				return nil
			})
		})
	})
	b.Run("NewKey", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.NewKey(credID(2)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
