package keystore

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Setting returns the value stored under key, or nil, nil when unset.
func (db *DB) Setting(key string) ([]byte, error) {
	return db.get(bucketSettings, []byte(key))
}

// PutSetting stores value under key durably; a nil value removes the key.
func (db *DB) PutSetting(key string, value []byte) error {
	return db.put(bucketSettings, []byte(key), value)
}

// LargeBlobs returns the serialized large-blob array (CTAP 2.1 §6.10), or
// nil if it was never written.
func (db *DB) LargeBlobs() ([]byte, error) {
	return db.get(bucketLargeBlobs, keyLargeBlob)
}

// PutLargeBlobs replaces the serialized large-blob array durably.
func (db *DB) PutLargeBlobs(array []byte) error {
	return db.put(bucketLargeBlobs, keyLargeBlob, array)
}

func (db *DB) get(bucket, key []byte) ([]byte, error) {
	if err := db.checkOpen(); err != nil {
		return nil, err
	}
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get(key); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	return out, boltError(err)
}

func (db *DB) put(bucket, key, value []byte) error {
	value = bytes.Clone(value)
	return db.commits.submit(func(tx *bolt.Tx) error {
		if value == nil {
			return tx.Bucket(bucket).Delete(key)
		}
		return tx.Bucket(bucket).Put(key, value)
	}, nil)
}

func (db *DB) checkOpen() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	return nil
}

// Reset wipes every credential, setting and the large-blob array in one
// transaction (CTAP 2.1 §6.6 authenticatorReset).
func (db *DB) Reset() error {
	return db.commits.submit(resetBuckets, db.forgetAll)
}

// forgetAll empties the in-memory index after a Reset.
func (db *DB) forgetAll() {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, e := range db.entries {
		if e != nil {
			e.mu.Lock()
			e.gone = true
			e.mu.Unlock()
		}
	}
	db.idx, db.entries = newRAMIndex(0, 0, 0), nil
}
