package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"sync"
	"testing"
)

// sealerBackend is one Sealer backend under the suite.
type sealerBackend struct {
	// open returns the backend's sealer for the state directory dir.
	open func(t *testing.T, dir string) sealerUnderTest
	// persistent: a sealer opened again on the same dir opens the first one's blobs.
	persistent bool
}

// runSealerSuite runs the sealer behaviour suite against one backend.
func runSealerSuite(t *testing.T, b sealerBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b sealerBackend)
	}{
		{"NewKeySigns", testNewKeySigns},
		{"SignerOpensSealedKey", testSignerOpens},
		{"KeyBoundToCredential", testKeyBound},
		{"KeysAreDistinct", testKeysDistinct},
		{"SealOpen", testSealOpen},
		{"Concurrent", testSealerConcurrent},
		{"Reopen", testSealerReopen},
		{"ImportExport", testImportExport},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func testCredID(t testing.TB) []byte {
	id := make([]byte, 16)
	rand.Read(id)
	return id
}

func mustNewKey(t testing.TB, s sealerUnderTest, id []byte) ([]byte, *ecdsa.PublicKey) {
	t.Helper()
	sealed, signer, err := s.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("NewKey made a %T key, want ECDSA P-256", signer.Public())
	}
	verifySignature(t, signer, pub)
	return sealed, pub
}

// verifySignature signs a digest as GetAssertion does and verifies it with pub.
func verifySignature(t testing.TB, signer crypto.Signer, pub *ecdsa.PublicKey) {
	t.Helper()
	sec1, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	verifyWithStoredKey(t, signer, sec1)
}

func testNewKeySigns(t *testing.T, b sealerBackend) {
	mustNewKey(t, b.open(t, t.TempDir()), testCredID(t))
}

func testSignerOpens(t *testing.T, b sealerBackend) {
	s := b.open(t, t.TempDir())
	id := testCredID(t)
	sealed, pub := mustNewKey(t, s, id)
	signer, err := s.Signer(id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(signer.Public()) {
		t.Fatal("Signer opened another key than NewKey made")
	}
	verifySignature(t, signer, pub)
}

func testKeyBound(t *testing.T, b sealerBackend) {
	s := b.open(t, t.TempDir())
	id := testCredID(t)
	sealed, _ := mustNewKey(t, s, id)
	if _, err := s.Signer(id, sealed); err != nil { // opened once, as a cache would keep it
		t.Fatal(err)
	}
	other := bytes.Clone(id)
	other[0] ^= 1
	if _, err := s.Signer(other, sealed); err == nil {
		t.Error("a sealed key opened for another credential ID")
	}
	for _, bad := range spoiled(sealed) {
		if _, err := s.Signer(id, bad); err == nil {
			t.Errorf("a damaged sealed key opened: %x", bad)
		}
	}
	if _, err := s.Open(id, sealed); err == nil {
		t.Error("a sealed key opened as a secret")
	}
}

// spoiled returns damaged copies of a blob: empty, truncated, each part flipped.
func spoiled(blob []byte) [][]byte {
	out := [][]byte{nil, blob[:len(blob)/2], blob[:len(blob)-1]}
	for _, i := range []int{0, 1, len(blob) / 2, len(blob) - 1} {
		b := bytes.Clone(blob)
		b[i] ^= 0x80
		out = append(out, b)
	}
	return out
}

func testKeysDistinct(t *testing.T, b sealerBackend) {
	s := b.open(t, t.TempDir())
	id := testCredID(t)
	s1, p1 := mustNewKey(t, s, id)
	s2, p2 := mustNewKey(t, s, id)
	if p1.Equal(p2) || bytes.Equal(s1, s2) {
		t.Error("two NewKey calls gave the same key")
	}
}

func testSealOpen(t *testing.T, b sealerBackend) {
	s := b.open(t, t.TempDir())
	id := testCredID(t)
	secret := bytes.Repeat([]byte{0xA5}, 32)
	sealed, err := s.Seal(id, secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret[:8]) {
		t.Error("the sealed secret contains its plaintext")
	}
	got, err := s.Open(id, sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open: %x, %v", got, err)
	}
	other := bytes.Clone(id)
	other[15] ^= 1
	if _, err := s.Open(other, sealed); err == nil {
		t.Error("a secret opened for another credential ID")
	}
	for _, bad := range spoiled(sealed) {
		if _, err := s.Open(id, bad); err == nil {
			t.Errorf("a damaged sealed secret opened: %x", bad)
		}
	}
	if _, err := s.Signer(id, sealed); err == nil {
		t.Error("a sealed secret opened as a key")
	}
}

func testSealerConcurrent(t *testing.T, b sealerBackend) {
	s := b.open(t, t.TempDir())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			id := testCredID(t)
			sealed, pub := mustNewKey(t, s, id)
			signer, err := s.Signer(id, sealed)
			if err != nil {
				t.Error(err)
				return
			}
			verifySignature(t, signer, pub)
		})
	}
	wg.Wait()
}

func testSealerReopen(t *testing.T, b sealerBackend) {
	if !b.persistent {
		t.Skip("the backend keeps nothing across opens")
	}
	dir := t.TempDir()
	s := b.open(t, dir)
	id := testCredID(t)
	sealed, pub := mustNewKey(t, s, id)
	secret, err := s.Seal(id, []byte("credRandom"))
	if err != nil {
		t.Fatal(err)
	}
	again := b.open(t, dir)
	signer, err := again.Signer(id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	verifySignature(t, signer, pub)
	if got, err := again.Open(id, secret); err != nil || string(got) != "credRandom" {
		t.Errorf("Open after reopen: %q, %v", got, err)
	}
	if _, err := b.open(t, t.TempDir()).Signer(id, sealed); err == nil {
		t.Error("a sealer of another state directory opened the key")
	}
}

func testImportExport(t *testing.T, b sealerBackend) {
	s := b.open(t, t.TempDir())
	imp, ok := s.(interface {
		ImportKey(credID, pkcs8 []byte) ([]byte, error)
	})
	if !ok {
		t.Fatal("the backend does not import keys (WebDriver Add Credential needs it)")
	}
	id := testCredID(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	sealed, err := imp.ImportKey(id, der)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := s.Signer(id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !k.PublicKey.Equal(signer.Public()) {
		t.Fatal("the imported key opened as another key")
	}
	verifySignature(t, signer, &k.PublicKey)
	if _, err := s.Signer(testCredID(t), sealed); err == nil {
		t.Error("an imported key opened for another credential ID")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(p384)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	derEd, _ := x509.MarshalPKCS8PrivateKey(ed)
	for name, bad := range map[string][]byte{"P-384": der384, "Ed25519": derEd, "garbage": []byte("not DER")} {
		if _, err := imp.ImportKey(id, bad); err == nil {
			t.Errorf("ImportKey accepted %s", name)
		}
	}
	exp, ok := s.(interface {
		ExportKey(credID, sealed []byte) ([]byte, error)
	})
	if !ok {
		return
	}
	out, err := exp.ExportKey(id, sealed)
	if err != nil {
		t.Fatal(err)
	}
	back, err := x509.ParsePKCS8PrivateKey(out)
	if err != nil || !k.Equal(back) {
		t.Errorf("ExportKey gave back another key (%v)", err)
	}
	if _, err := exp.ExportKey(testCredID(t), sealed); err == nil {
		t.Error("ExportKey opened a key for another credential ID")
	}
}
