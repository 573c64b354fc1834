package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// entry is one credential in memory, made at its first use. Open builds
// only the ramIndex, from the ids bucket alone, so it stays fast with
// many credentials; the record is decoded on first use and then kept.
//
// What lookups and NextCounter read comes first, and the entry fills a
// 128-byte size class, so those fields share one aligned cache line.
type entry struct {
	mu          sync.Mutex
	rec         *Record      // nil until first use; rec.Counter is the last counter handed out
	gone        bool         // deleted, or wiped by Reset
	dirty       bool         // LastUsed not yet stored; the entry is in DB.dirty
	ceiling     uint32       // durable reservation: counters up to it may be handed out
	reserved    uint32       // highest reservation submitted; every stored copy carries it
	window      uint32       // size of the last reservation
	reserving   *reservation // the reservation in flight, if any
	lastReserve time.Time    // when it started

	id   string
	slot int32  // in DB.idx; fixed once the entry is visible
	seq  uint64 // key in the creds bucket; fixed

	wmu sync.Mutex // held by Update and Delete across their commit

	_ [24]byte // to 128 bytes: see above
}

// loadIndex builds the ramIndex from the ids bucket, sized by a first
// pass so that only byRP grows while loading: counting RPs would take a
// map of its own, and presizing byRP measured no faster.
func (db *DB) loadIndex(tx *bolt.Tx) error {
	b := tx.Bucket(bucketIDs)
	var n, idBytes int
	err := b.ForEach(func(k, v []byte) error {
		if len(k) != 8 || len(v) <= 32 || len(v) > 32+maxCredentialIDLen {
			return fmt.Errorf("keystore: damaged index entry %x", k)
		}
		n, idBytes = n+1, idBytes+len(v)-32
		return nil
	})
	if err != nil {
		return err
	}
	db.idx = newRAMIndex(n, 0, idBytes)
	err = b.ForEach(func(k, v []byte) error {
		db.idx.add(v[32:], [32]byte(v[:32]), binary.BigEndian.Uint64(k))
		return nil
	})
	db.entries = make([]*entry, len(db.idx.slots))
	return err
}

// lookup finds the entry of id without loading its record.
func (db *DB) lookup(id []byte) (*entry, error) {
	db.mu.RLock()
	e, err := db.entryOf(id, false)
	db.mu.RUnlock()
	if e != nil || err != nil {
		return e, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.entryOf(id, true)
}

// entryOf returns the entry of id. Without create, a credential that has
// no entry yet gives nil, nil. db.mu must be held (for writing to create).
func (db *DB) entryOf(id []byte, create bool) (*entry, error) {
	if db.closed {
		return nil, ErrClosed
	}
	s := db.idx.find(id)
	if s == noSlot {
		return nil, ErrNotFound
	}
	return db.entryAt(s, create), nil
}

// entryAt returns the entry of slot s, making it if asked. db.mu must be
// held (for writing to create).
func (db *DB) entryAt(s int32, create bool) *entry {
	e := db.entries[s]
	if e == nil && create {
		e = &entry{id: string(db.idx.id(s)), slot: s, seq: db.idx.slots[s].seq}
		db.entries[s] = e
	}
	return e
}

// loaded finds the entry of id and makes sure its record is decoded.
func (db *DB) loaded(id []byte) (*entry, error) {
	e, err := db.lookup(id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	ready := e.rec != nil || e.gone
	e.mu.Unlock()
	if ready {
		return e, nil
	}
	if err := db.ensureLoaded([]*entry{e}); err != nil {
		return nil, err
	}
	return e, nil
}

// ensureLoaded decodes the records of the entries that have none yet, in
// one read transaction. A record is only ever installed where none was: on
// disk, a record does not change until it has been loaded.
func (db *DB) ensureLoaded(es []*entry) error {
	missing := unloaded(es)
	if len(missing) == 0 {
		return nil
	}
	recs := make([]*Record, len(missing))
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCreds)
		for i, e := range missing {
			r, err := readRecord(b, e.seq, e.id)
			if err != nil {
				return err
			}
			recs[i] = r
		}
		return nil
	})
	if err != nil {
		return boltError(err)
	}
	for i, e := range missing {
		install(e, recs[i])
	}
	return nil
}

func unloaded(es []*entry) []*entry {
	var missing []*entry
	for _, e := range es {
		e.mu.Lock()
		if e.rec == nil && !e.gone {
			missing = append(missing, e)
		}
		e.mu.Unlock()
	}
	return missing
}

// readRecord decodes one stored record, checking that it is id's; nil if
// it is not there (deleted since the lookup).
func readRecord(b *bolt.Bucket, seq uint64, id string) (*Record, error) {
	v := b.Get(seqKey(seq))
	if v == nil {
		return nil, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("credential %x: %w", id, err)
	}
	r = packed(r)
	if !bytes.Equal(r.ID, []byte(id)) {
		return nil, fmt.Errorf("keystore: credential %x: %w: stored under another ID", id, errBadRecord)
	}
	return r, nil
}

func install(e *entry, r *Record) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec != nil || e.gone {
		return
	}
	if r == nil { // deleted after our lookup; Delete's bookkeeping follows
		e.gone = true
		return
	}
	e.rec, e.ceiling, e.reserved = r, r.Counter, r.Counter
}

// putEntry stores e's in-memory record. The stored counter is the
// reservation (exact: the last value handed out, used only by Close). A
// record that is no longer stored under e's key as e's ID (deleted, or
// reset earlier in the same transaction, after which the restarted
// sequence may have given the key to a new credential) is left alone.
func putEntry(tx *bolt.Tx, e *entry, exact bool) error {
	b, key := tx.Bucket(bucketCreds), seqKey(e.seq)
	if indexedAs(tx, key, []byte(e.id)) == nil {
		return nil
	}
	e.mu.Lock()
	if e.rec == nil || e.gone {
		e.mu.Unlock()
		return nil
	}
	r := *e.rec // records are replaced, never changed in place, except their counter and LastUsed
	if !exact {
		r.Counter = e.reserved
	}
	e.dirty = false
	e.mu.Unlock()
	v, err := encodeRecord(&r)
	if err != nil {
		return err
	}
	return b.Put(key, v)
}

// markDirty notes that e's LastUsed is not stored yet. e.mu must be held.
func (db *DB) markDirty(e *entry) {
	if e.dirty {
		return
	}
	e.dirty = true
	db.dirtyMu.Lock()
	db.dirty[e] = struct{}{}
	db.dirtyMu.Unlock()
}

func (db *DB) takeDirty() []*entry {
	db.dirtyMu.Lock()
	defer db.dirtyMu.Unlock()
	if len(db.dirty) == 0 {
		return nil
	}
	es := make([]*entry, 0, len(db.dirty))
	for e := range db.dirty {
		es = append(es, e)
	}
	clear(db.dirty)
	return es
}

// requeueDirty marks entries dirty again after their flush was rolled back.
func (db *DB) requeueDirty(es []*entry) {
	for _, e := range es {
		e.mu.Lock()
		e.dirty = false
		db.markDirty(e)
		e.mu.Unlock()
	}
}

// unflushed returns the entries whose last use or exact counter is not
// stored. Close stores them: once closed, no counter beyond the exact one
// can have been handed out, so a clean restart continues without a gap.
func (db *DB) unflushed() []*entry {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var es []*entry
	for _, e := range db.entries {
		if e == nil {
			continue
		}
		e.mu.Lock()
		if e.rec != nil && (e.dirty || e.rec.Counter != e.reserved) {
			es = append(es, e)
		}
		e.mu.Unlock()
	}
	return es
}

// putEntries stores the entries' records (see putEntry). Every write
// transaction starts with the entries whose LastUsed is held in memory.
func putEntries(tx *bolt.Tx, es []*entry, exact bool) error {
	for _, e := range es {
		if err := putEntry(tx, e, exact); err != nil {
			return err
		}
	}
	return nil
}
