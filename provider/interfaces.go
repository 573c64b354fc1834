package provider

import (
	"crypto"

	"github.com/passkeyd/passkeyd/attestation"
	"github.com/passkeyd/passkeyd/keystore"
)

// CredentialStore keeps credential records. Every method that changes
// something is durable when it returns: a crash afterwards cannot lose it.
// keystore.DB (bbolt) and keystore.Memory implement it.
type CredentialStore interface {
	// Create stores a new record. It fails with keystore.ErrExists if the ID is taken.
	// Implementations may group concurrent Creates into one commit.
	Create(rec *keystore.Record) error
	// Credential returns a copy of one record, or keystore.ErrNotFound.
	Credential(id []byte) (*keystore.Record, error)
	// Credentials returns copies of every record of one RP (by SHA-256 of its ID),
	// newest first. A nil hash returns every record of every RP.
	Credentials(rpIDHash *[32]byte) ([]*keystore.Record, error)
	// Update changes one record in one transaction; fn sees a copy it may modify.
	Update(id []byte, fn func(*keystore.Record) error) error
	// Delete removes one record, or answers keystore.ErrNotFound.
	Delete(id []byte) error
}

// CounterStore hands out signature counters.
type CounterStore interface {
	// NextCounter returns the next signature counter of a credential and records
	// the use time. Values are strictly increasing per credential and never
	// repeat, even across a crash; they may skip (CTAP 2.1 §6.1.1 allows any increase).
	NextCounter(id []byte) (uint32, error)
}

// SettingsStore keeps small named values: the provider switch, the PIN state,
// options. Values are opaque to the store.
type SettingsStore interface {
	Setting(key string) ([]byte, error) // nil, nil when unset
	PutSetting(key string, value []byte) error
}

// LargeBlobStore keeps the serialized large-blob array (CTAP 2.1 §6.10).
type LargeBlobStore interface {
	LargeBlobs() ([]byte, error) // nil when never written
	PutLargeBlobs(array []byte) error
}

// Store is everything the provider keeps. Reset wipes credentials, settings
// and large blobs in one transaction (authenticatorReset).
type Store interface {
	CredentialStore
	CounterStore
	SettingsStore
	LargeBlobStore
	Reset() error
}

// Sealer protects private keys and extension secrets. Keys are created inside
// the backend and never leave it in plaintext; the provider only keeps the
// sealed blob and signs through crypto.Signer.
type Sealer interface {
	// NewKey creates a P-256 key bound to credID and returns its sealed form
	// and a signer for it.
	NewKey(credID []byte) (sealed []byte, signer crypto.Signer, err error)
	// Signer opens a sealed key. It fails if the blob was not made for credID.
	Signer(credID, sealed []byte) (crypto.Signer, error)
	// Seal and Open protect small secrets (hmac-secret CredRandom, largeBlobKey),
	// bound to credID.
	Seal(credID, plaintext []byte) ([]byte, error)
	Open(credID, sealed []byte) ([]byte, error)
}

// KeyImporter is an optional Sealer ability: seal an existing private key
// (the WebDriver "Add Credential" operation). The key is PKCS#8 DER.
type KeyImporter interface {
	ImportKey(credID, pkcs8 []byte) (sealed []byte, err error)
}

// KeyExporter is an optional Sealer ability offered only by test stores:
// reveal a private key as PKCS#8 DER.
type KeyExporter interface {
	ExportKey(credID, sealed []byte) (pkcs8 []byte, err error)
}

// Attester makes the attestation statement of a new credential.
// attestation.None, attestation.PackedSelf and the others implement it.
type Attester interface {
	Attest(in attestation.Input) (attestation.Statement, error)
	// Format names the statement format, for GetInfo attestationFormats.
	Format() string
}
