package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestFileSealerCreatesPrivateKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if _, err := NewFileSealer(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, masterKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != masterKeySize {
		t.Errorf("master.key: mode %04o, %d bytes", fi.Mode().Perm(), fi.Size())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %04o", di.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestFileSealerRefusesLoosePermissions(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewFileSealer(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, masterKeyFile)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		os.Chmod(path, mode)
		_, err := NewFileSealer(dir)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v, want a refusal that says how to fix it", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := NewFileSealer(dir); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestFileSealerRefusesDamagedKeyFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, masterKeyFile), []byte("short"), 0o600)
	if _, err := NewFileSealer(dir); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("short key file: %v", err)
	}
}

func TestFileSealerConcurrentFirstUse(t *testing.T) {
	dir := t.TempDir()
	sealers := make([]*FileSealer, 8)
	var wg sync.WaitGroup
	for i := range sealers {
		wg.Go(func() {
			s, err := NewFileSealer(dir)
			if err != nil {
				t.Error(err)
			}
			sealers[i] = s
		})
	}
	wg.Wait()
	id := testCredID(t)
	sealed, pub := mustNewKey(t, sealers[0], id)
	for _, s := range sealers[1:] {
		signer, err := s.Signer(id, sealed)
		if err != nil {
			t.Fatal("racing first uses made different master keys")
		}
		verifySignature(t, signer, pub)
	}
}

func TestPassphraseSealer(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	s, err := NewPassphraseSealer(dir, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	id := testCredID(t)
	sealed, _ := mustNewKey(t, s, id)
	if _, err := NewPassphraseSealer(dir, []byte("wrong horse")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
	if _, err := NewFileSealer(dir); !errors.Is(err, ErrPassphraseRequired) {
		t.Errorf("no passphrase: %v", err)
	}
	if _, err := NewPassphraseSealer(dir, nil); err == nil {
		t.Error("empty passphrase accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); err == nil {
		t.Error("a passphrase state directory has a master key file")
	}
	other, _ := NewPassphraseSealer(t.TempDir(), []byte("correct horse"))
	if _, err := other.Signer(id, sealed); err == nil {
		t.Error("the same passphrase in another state directory opened the key: the salt is not used")
	}
}

func TestPassphraseRefusedWhereKeyFileExists(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewFileSealer(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := NewPassphraseSealer(dir, []byte("pw")); err == nil {
		t.Error("a passphrase was accepted for a state directory with a master key file")
	}
}

func TestPassphraseParamsChecked(t *testing.T) {
	cheapKDF(t)
	dir := t.TempDir()
	if _, err := NewPassphraseSealer(dir, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, passphraseFile)
	data, _ := os.ReadFile(path)
	huge := bytes.Replace(data, []byte(`"memory_kib":8192`), []byte(`"memory_kib":99999999`), 1)
	if bytes.Equal(huge, data) {
		t.Fatalf("unexpected params file: %s", data)
	}
	os.WriteFile(path, huge, 0o600)
	if _, err := NewPassphraseSealer(dir, []byte("pw")); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("absurd argon2 memory: %v", err)
	}
}

// TestPassphraseDefaultCost runs the real argon2id cost once.
func TestPassphraseDefaultCost(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with 64 MiB")
	}
	s, err := NewPassphraseSealer(t.TempDir(), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	mustNewKey(t, s, testCredID(t))
}
