package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// provider.KeyImporter, structurally.
var _ interface {
	ImportKey(credID, pkcs8 []byte) ([]byte, error)
} = (*TPMSealer)(nil)

func newPKCS8(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, der
}

func TestTPMImportKey(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		s := openTestTPM(t, spec, t.TempDir())
		k, der := newPKCS8(t)
		blob, err := s.ImportKey(credID(1), der)
		if err != nil {
			t.Fatalf("ImportKey: %v", err)
		}
		assertOnlyOwnObjects(t, s)
		checkImportedBlob(t, s, blob)
		signer, err := s.Signer(credID(1), blob)
		if err != nil {
			t.Fatalf("Signer: %v", err)
		}
		if !k.PublicKey.Equal(signer.Public()) {
			t.Fatal("the imported key opened as another key")
		}
		signAndVerify(t, signer, &k.PublicKey)
		if _, err := s.Signer(credID(2), blob); !errors.Is(err, ErrSealedData) {
			t.Fatalf("Signer for another credential ID: err = %v, want ErrSealedData", err)
		}
		if _, _, err := s.Certify(credID(2), blob, nil); !errors.Is(err, ErrSealedData) {
			t.Fatalf("Certify for another credential ID: err = %v, want ErrSealedData", err)
		}
		checkCertifiable(t, s, blob, signer)
		assertOnlyOwnObjects(t, s)
	})
}

// checkImportedBlob checks that an imported key's blob has NewKey's format
// and binding, with the attributes of an imported object.
func checkImportedBlob(t *testing.T, s *TPMSealer, blob []byte) {
	t.Helper()
	pubArea, _, ok := splitTPMBlob(blob)
	if !ok {
		t.Fatal("the imported blob is not in the v1 format")
	}
	if got, want := authPolicyOf(t, pubArea), s.credentialPolicy(credID(1)); !bytes.Equal(got, want) {
		t.Fatalf("authPolicy %x, want the credential policy %x", got, want)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](pubArea)
	if err != nil {
		t.Fatal(err)
	}
	if a := pub.ObjectAttributes; a.FixedTPM || a.FixedParent || a.SensitiveDataOrigin || !a.NoDA || !a.SignEncrypt {
		t.Fatalf("object attributes %+v, want an imported, noDA signing key", a)
	}
}

// checkCertifiable has the attestation key certify an imported key, from
// its blob (Certify) and through its signer (CertifyKey).
func checkCertifiable(t *testing.T, s *TPMSealer, blob []byte, signer crypto.Signer) {
	t.Helper()
	akPub, err := s.AttestationPublic()
	if err != nil {
		t.Fatal(err)
	}
	nonce := sha256.Sum256([]byte("qualifyingData"))
	attest, sig, err := s.Certify(credID(1), blob, nonce[:])
	if err != nil {
		t.Fatalf("Certify: %v", err)
	}
	digest := sha256.Sum256(attest)
	if !ecdsa.VerifyASN1(akPub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the certification signature does not verify with the attestation key")
	}
	checkCertifyInfo(t, attest, nonce[:], s.mustPublicArea(t, blob))
	pubArea, certInfo, _, err := s.CertifyKey(credID(1), signer, nonce[:])
	if err != nil {
		t.Fatalf("CertifyKey: %v", err)
	}
	checkCertifyInfo(t, certInfo, nonce[:], pubArea)
	if _, _, _, err := s.CertifyKey(credID(2), signer, nonce[:]); !errors.Is(err, ErrSealedData) {
		t.Fatalf("CertifyKey for another credential ID: err = %v, want ErrSealedData", err)
	}
}

func TestTPMImportKeyReopen(t *testing.T) {
	eachTPM(t, func(t *testing.T, spec string) {
		dir := t.TempDir()
		s1, err := OpenTPM(spec, dir)
		if err != nil {
			t.Fatal(err)
		}
		k, der := newPKCS8(t)
		blob, err := s1.ImportKey(credID(1), der)
		if err != nil {
			t.Fatal(err)
		}
		s1.Close()
		if _, err := s1.ImportKey(credID(1), der); !errors.Is(err, ErrClosed) {
			t.Fatalf("ImportKey after Close: err = %v, want ErrClosed", err)
		}
		signer, err := openTestTPM(t, spec, dir).Signer(credID(1), blob)
		if err != nil {
			t.Fatalf("Signer after reopen: %v", err)
		}
		signAndVerify(t, signer, &k.PublicKey)
	})
}

func TestTPMImportKeyRefusals(t *testing.T) {
	s := openTestTPM(t, startSWTPM(t).Spec(), t.TempDir())
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	_, p256 := newPKCS8(t)
	const wrongType = "only P-256 ECDSA keys are supported"
	for _, tc := range []struct {
		name string
		key  any    // marshalled as PKCS#8 when der is nil
		der  []byte // used as it is
		want string
	}{
		{name: "P-384", key: p384, want: wrongType},
		{name: "RSA-2048", key: rsaKey, want: wrongType},
		{name: "Ed25519", key: edKey, want: wrongType},
		{name: "X25519", key: x25519, want: wrongType},
		{name: "not DER", der: []byte("not DER"), want: "import key"},
		{name: "truncated", der: p256[:len(p256)-1], want: "import key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := tc.der
			if der == nil {
				var err error
				if der, err = x509.MarshalPKCS8PrivateKey(tc.key); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.ImportKey(credID(1), der)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ImportKey: err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	assertOnlyOwnObjects(t, s)
}
