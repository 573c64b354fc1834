package keystore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// needle is a secret and the name under which a finding is reported.
type needle struct {
	name  string
	bytes []byte
	home  string // the one file allowed to hold it ("" for none)
}

// findSecrets returns the findings of any needle, raw, hex or base64, in
// any file under dir other than its home.
func findSecrets(t *testing.T, dir string, needles []needle) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if filepath.Base(path) == n.home {
				continue
			}
			for _, form := range [][]byte{n.bytes, []byte(hex.EncodeToString(n.bytes)),
				[]byte(base64.StdEncoding.EncodeToString(n.bytes)), []byte(base64.RawURLEncoding.EncodeToString(n.bytes))} {
				if bytes.Contains(data, form) {
					found = append(found, n.name+" in "+filepath.Base(path))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// registerWithSecrets registers n credentials through a DB and a
// FileSealer in dir and returns every secret involved.
func registerWithSecrets(t *testing.T, dir string, n int) []needle {
	db := openTestDB(t, dir)
	sealer, err := NewFileSealer(dir)
	if err != nil {
		t.Fatal(err)
	}
	master, _ := os.ReadFile(filepath.Join(dir, masterKeyFile))
	needles := []needle{{"the master key", master, masterKeyFile}}
	for i := range n {
		id := make([]byte, 16)
		rand.Read(id)
		sealed, signer, err := sealer.NewKey(id)
		if err != nil {
			t.Fatal(err)
		}
		k := signer.(*ecdsa.PrivateKey)
		d, _ := k.Bytes()
		pub, _ := k.PublicKey.Bytes()
		credRandom := make([]byte, 32)
		rand.Read(credRandom)
		secrets, _ := sealer.Seal(id, credRandom)
		mustCreate(t, db, &Record{ID: id, RPID: "example.com", PublicKey: pub, SealedKey: sealed,
			SealedSecrets: secrets, Created: time.Now()})
		mustNextCounter(t, db, id)
		needles = append(needles, needle{name: "private key " + hex.EncodeToString(id), bytes: d},
			needle{name: "credRandom " + hex.EncodeToString(id), bytes: credRandom})
		if i%10 == 0 {
			db.PutSetting("after", []byte{byte(i)}) // more commits, more pages
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return needles
}

func TestNoSecretInStateDirectory(t *testing.T) {
	dir := t.TempDir()
	needles := registerWithSecrets(t, dir, 50)
	if found := findSecrets(t, dir, needles); len(found) > 0 {
		t.Errorf("secrets in plaintext in the state directory: %v", found)
	}
	// The scan itself must be able to see a leak.
	os.WriteFile(filepath.Join(dir, "leak"), append([]byte("x"), needles[1].bytes...), 0o600)
	os.WriteFile(filepath.Join(dir, "leak-hex"), []byte(hex.EncodeToString(needles[0].bytes)), 0o600)
	if found := findSecrets(t, dir, needles); len(found) != 2 {
		t.Errorf("the scan missed planted secrets: %v", found)
	}
}
