package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the bbolt file.
var (
	bucketMeta       = []byte("meta")       // "schema" → version, 8 bytes big-endian
	bucketCreds      = []byte("creds")      // sequence number → encoded Record
	bucketIDs        = []byte("ids")        // sequence number → rpIdHash | credential ID
	bucketSettings   = []byte("settings")   // name → opaque value
	bucketLargeBlobs = []byte("largeblobs") // "array" → serialized large-blob array
)

var (
	keySchema    = []byte("schema")
	keyLargeBlob = []byte("array")
)

// bucketIndexV1 is schema 1's index: rpIdHash | credential ID → sequence number.
var bucketIndexV1 = []byte("index")

// schemaVersion is the layout this code reads and writes.
//
//   - 0: no meta bucket: a new file, or a file from before schema versions
//     that holds only the creds bucket.
//   - 1: meta, creds, index, settings, largeblobs. Records are keyed by a
//     sequence number, so new ones append to one page instead of dirtying
//     a random page each; the index maps rpIdHash | ID to that number.
//   - 2: the index is replaced by ids, keyed by the record's sequence
//     number too, with rpIdHash | ID as the value. Schema 1's index key
//     sent every new credential to a random leaf: a group commit of 32
//     Creates wrote about 45 pages in as many places, and now writes about
//     a dozen. Lookups never read the bucket (Open loads it into the
//     ramIndex), and IDs are kept unique by DB.claim, so nothing needs it
//     ordered by ID.
const schemaVersion = 2

// migrations[n] turns schema n into n+1. All of them run in one transaction
// at Open, so a crash leaves the file at its old version.
var migrations = []func(tx *bolt.Tx) error{
	0: migrate0to1,
	1: migrate1to2,
}

// migrateIfNeeded runs migrate in a write transaction, unless the file is
// current: opening a current file writes nothing.
func migrateIfNeeded(bdb *bolt.DB) error {
	var v uint64
	err := bdb.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readSchemaVersion(tx)
		return err
	})
	if err != nil || v == schemaVersion {
		return err
	}
	return bdb.Update(migrate)
}

// migrate brings the file to schemaVersion.
func migrate(tx *bolt.Tx) error {
	v, err := readSchemaVersion(tx)
	if err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("keystore: the store has schema version %d, newer than this passkeyd understands (%d): "+
			"use a newer passkeyd", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		if err := migrations[v](tx); err != nil {
			return fmt.Errorf("keystore: migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	return writeSchemaVersion(tx, schemaVersion)
}

func readSchemaVersion(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	raw := meta.Get(keySchema)
	if len(raw) != 8 {
		return 0, fmt.Errorf("keystore: damaged schema version (%d bytes)", len(raw))
	}
	return binary.BigEndian.Uint64(raw), nil
}

func writeSchemaVersion(tx *bolt.Tx, v uint64) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, v))
}

// migrate0to1 creates the buckets, re-keys records (keyed by ID in
// version 0) by sequence number and indexes them by RP.
func migrate0to1(tx *bolt.Tx) error {
	old, err := takeV0Records(tx)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketMeta, bucketCreds, bucketIndexV1, bucketSettings, bucketLargeBlobs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	creds, index := tx.Bucket(bucketCreds), tx.Bucket(bucketIndexV1)
	for _, v := range old {
		r, err := decodeRecord(v)
		if err != nil {
			return err
		}
		seq, err := creds.NextSequence()
		if err != nil {
			return err
		}
		if err := creds.Put(seqKey(seq), v); err != nil {
			return err
		}
		h := r.RPIDHash()
		if err := index.Put(indexValue(&h, r.ID), seqKey(seq)); err != nil {
			return err
		}
	}
	return nil
}

// takeV0Records removes a version 0 creds bucket (ID → record) and
// returns its records, checked against their keys.
func takeV0Records(tx *bolt.Tx) ([][]byte, error) {
	b := tx.Bucket(bucketCreds)
	if b == nil {
		return nil, nil
	}
	var out [][]byte
	err := b.ForEach(func(id, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("credential %x: %w", id, err)
		}
		if !bytes.Equal(r.ID, id) {
			return fmt.Errorf("credential %x: %w: stored under another ID", id, errBadRecord)
		}
		out = append(out, bytes.Clone(v))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, tx.DeleteBucket(bucketCreds)
}

// migrate1to2 moves schema 1's index (rpIdHash | ID → sequence number)
// to the ids bucket (sequence number → rpIdHash | ID), put in key order:
// bbolt splits pages only at commit, so a big transaction of random puts
// would be quadratic.
func migrate1to2(tx *bolt.Tx) error {
	type idsEntry struct{ seq, value []byte }
	var es []idsEntry
	err := tx.Bucket(bucketIndexV1).ForEach(func(k, v []byte) error {
		if len(k) <= 32 || len(k) > 32+maxCredentialIDLen || len(v) != 8 {
			return fmt.Errorf("damaged index entry %x", k)
		}
		es = append(es, idsEntry{bytes.Clone(v), bytes.Clone(k)})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(es, func(a, b idsEntry) int { return bytes.Compare(a.seq, b.seq) })
	ids, err := tx.CreateBucket(bucketIDs)
	if err != nil {
		return err
	}
	ids.FillPercent = 1 // filled in order; later Creates append, other changes keep sizes or shrink
	for i, e := range es {
		if i > 0 && bytes.Equal(es[i-1].seq, e.seq) {
			return fmt.Errorf("damaged index: credentials %x and %x share record %x", es[i-1].value, e.value, e.seq)
		}
		if err := ids.Put(e.seq, e.value); err != nil {
			return err
		}
	}
	return tx.DeleteBucket(bucketIndexV1)
}

// seqKey is the key of a record in the creds and ids buckets.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// indexValue is the value of a credential in the ids bucket.
func indexValue(rpHash *[32]byte, id []byte) []byte {
	k := make([]byte, 0, 32+len(id))
	return append(append(k, rpHash[:]...), id...)
}

// resetBuckets empties every bucket that authenticatorReset wipes.
func resetBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketCreds, bucketIDs, bucketSettings, bucketLargeBlobs} {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}
