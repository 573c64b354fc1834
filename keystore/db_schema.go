package keystore

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the bbolt file.
var (
	bucketMeta       = []byte("meta")       // "schema" → version, 8 bytes big-endian
	bucketCreds      = []byte("creds")      // credential ID → encoded Record
	bucketIndex      = []byte("index")      // rpIdHash | credential ID → empty
	bucketSettings   = []byte("settings")   // name → opaque value
	bucketLargeBlobs = []byte("largeblobs") // "array" → serialized large-blob array
)

var (
	keySchema    = []byte("schema")
	keyLargeBlob = []byte("array")
)

// schemaVersion is the layout this code reads and writes.
//
//   - 0: no meta bucket: a new file, or a file from before schema versions
//     that holds only the creds bucket.
//   - 1: meta, creds, index, settings, largeblobs.
const schemaVersion = 1

// migrations[n] turns schema n into n+1. All of them run in one transaction
// at Open, so a crash leaves the file at its old version.
var migrations = []func(tx *bolt.Tx) error{
	0: migrate0to1,
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

// migrate0to1 creates the buckets and indexes any records by RP.
func migrate0to1(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketCreds, bucketIndex, bucketSettings, bucketLargeBlobs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	index := tx.Bucket(bucketIndex)
	return tx.Bucket(bucketCreds).ForEach(func(id, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("credential %x: %w", id, err)
		}
		h := r.RPIDHash()
		return index.Put(indexKey(&h, id), nil)
	})
}

// indexKey is the key of a credential in the index bucket.
func indexKey(rpHash *[32]byte, id []byte) []byte {
	k := make([]byte, 0, 32+len(id))
	return append(append(k, rpHash[:]...), id...)
}

// resetBuckets empties every bucket that authenticatorReset wipes.
func resetBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketCreds, bucketIndex, bucketSettings, bucketLargeBlobs} {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}
