package keystore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
)

// TestCount: the index-only count agrees with the records, through creates,
// a delete that empties an RP, a reopen and a reset.
func TestCount(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, NoSync())
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemory()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point, _ := key.PublicKey.Bytes()
	var ids [][]byte
	for i := range 5 {
		r := &Record{ID: []byte(fmt.Sprintf("count-credential-%02d", i)), RPID: fmt.Sprintf("rp%d.example", i%3),
			PublicKey: point, SealedKey: []byte{1}}
		ids = append(ids, r.ID)
		for _, s := range []interface{ Create(*Record) error }{db, mem} {
			if err := s.Create(r.Clone()); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(what string, s interface{ Count() (int, int, error) }, creds, rps int) {
		t.Helper()
		c, r, err := s.Count()
		if err != nil || c != creds || r != rps {
			t.Fatalf("%s: Count = %d, %d, %v; want %d, %d", what, c, r, err, creds, rps)
		}
	}
	check("db", db, 5, 3)
	check("memory", mem, 5, 3)
	for _, id := range [][]byte{ids[2], ids[4]} { // rp2 has ids 2 only; rp1 keeps id 1
		if err := db.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	check("db after deletes", db, 3, 2)
	db.Close()
	if db, err = Open(dir, NoSync()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check("db after reopen", db, 3, 2)
	if err := db.Reset(); err != nil {
		t.Fatal(err)
	}
	check("db after reset", db, 0, 0)
}
