package keystore_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/passkeyd/passkeyd/keystore"
)

// A credential's life: a sealed key from the default sealer, a durable
// record, and an assertion signed with a fresh counter.
func Example() {
	dir, _ := os.MkdirTemp("", "passkeyd-example")
	defer os.RemoveAll(dir)

	db, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	sealer, err := keystore.NewFileSealer(dir)
	if err != nil {
		log.Fatal(err)
	}

	id := make([]byte, 16)
	rand.Read(id)
	sealed, signer, err := sealer.NewKey(id)
	if err != nil {
		log.Fatal(err)
	}
	pub, _ := signer.Public().(*ecdsa.PublicKey).Bytes()
	err = db.Create(&keystore.Record{
		ID: id, RPID: "example.com", UserName: "alice", PublicKey: pub, SealedKey: sealed,
		Discoverable: true, Created: time.Now(),
	})
	if err != nil {
		log.Fatal(err)
	}

	rp := sha256.Sum256([]byte("example.com"))
	found, _ := db.Credentials(&rp)
	rec := found[0]
	counter, _ := db.NextCounter(rec.ID)
	key, _ := sealer.Signer(rec.ID, rec.SealedKey)
	digest := sha256.Sum256([]byte("authenticatorData || clientDataHash"))
	sig, _ := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	fmt.Println(rec.UserName, counter > 0, ecdsa.VerifyASN1(signer.Public().(*ecdsa.PublicKey), digest[:], sig))
	// Output: alice true true
}

// A second process on the same state directory is refused at once.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "passkeyd-example")
	defer os.RemoveAll(dir)
	db, _ := keystore.Open(dir)
	defer db.Close()
	_, err := keystore.Open(dir)
	fmt.Println(errors.Is(err, keystore.ErrLocked))
	// Output: true
}
