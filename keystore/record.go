package keystore

import (
	"crypto/sha256"
	"errors"
	"time"
)

// Record is one stored credential. Secret material never appears here in
// plaintext: SealedKey and SealedSecrets are produced by a [Sealer].
type Record struct {
	ID              []byte    // credential ID, random, >= 16 bytes
	RPID            string    // relying party ID
	RPName          string    // relying party display name, may be empty
	UserID          []byte    // user handle
	UserName        string    // user.name
	UserDisplayName string    // user.displayName
	PublicKey       []byte    // uncompressed SEC1 P-256 point, 65 bytes
	SealedKey       []byte    // private key as sealed by the Sealer that created it
	SealedSecrets   []byte    // extension secrets (hmac-secret CredRandom, largeBlobKey), sealed; may be nil
	Discoverable    bool      // resident key
	CredProtect     uint8     // 1, 2 or 3 (0 means 1)
	Counter         uint32    // last signature counter handed out (see Store.NextCounter)
	BackupEligible  bool      // BE flag
	BackupState     bool      // BS flag
	CredBlob        []byte    // credBlob extension, stored as given
	Created         time.Time // UTC
	LastUsed        time.Time // UTC, zero if never used
}

// RPIDHash is SHA-256 of the record's RP ID.
func (r *Record) RPIDHash() [32]byte { return sha256.Sum256([]byte(r.RPID)) }

// Clone returns a deep copy. Its byte slices share one allocation (each
// capped at its length, so appending to one never touches another): a copy
// costs two allocations and reads as one block.
func (r *Record) Clone() *Record {
	c := *r
	buf := make([]byte, 0, len(r.ID)+len(r.UserID)+len(r.PublicKey)+len(r.SealedKey)+len(r.SealedSecrets)+len(r.CredBlob))
	for _, f := range []*[]byte{&c.ID, &c.UserID, &c.PublicKey, &c.SealedKey, &c.SealedSecrets, &c.CredBlob} {
		if len(*f) == 0 {
			*f = nil
			continue
		}
		start := len(buf)
		buf = append(buf, *f...)
		*f = buf[start:len(buf):len(buf)]
	}
	return &c
}

// Errors callers branch on.
var (
	ErrNotFound = errors.New("keystore: credential not found")
	ErrExists   = errors.New("keystore: credential ID already exists")
	ErrLocked   = errors.New("keystore: state directory is in use by another passkeyd")
	ErrClosed   = errors.New("keystore: store is closed")
)
