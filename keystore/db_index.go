package keystore

import (
	"bytes"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// entry is one credential in memory. Open builds entries from the index
// bucket alone (no record is decoded), so it stays fast with many
// credentials; the record is decoded on first use and then kept.
type entry struct {
	id     string
	rpHash [32]byte // guarded by DB.mu

	wmu sync.Mutex // held by Update and Delete across their commit

	mu        sync.Mutex
	rec       *Record      // nil until first use; rec.Counter is the last counter handed out
	ceiling   uint32       // durable reservation: counters up to it may be handed out
	reserved  uint32       // highest reservation submitted; every stored copy carries it
	reserving *reservation // the reservation in flight, if any
	dirty     bool         // LastUsed not yet stored; the entry is in DB.dirty
	gone      bool         // deleted, or wiped by Reset
}

// loadIndex fills byID and byRP from the index bucket.
func (db *DB) loadIndex(tx *bolt.Tx) error {
	db.byID = make(map[string]*entry)
	db.byRP = make(map[[32]byte][]*entry)
	var slab []entry // entries are allocated in chunks: Open allocates little
	return tx.Bucket(bucketIndex).ForEach(func(k, _ []byte) error {
		if len(k) <= 32 {
			return fmt.Errorf("keystore: damaged index key %x", k)
		}
		if len(slab) == cap(slab) {
			slab = make([]entry, 0, 4096)
		}
		slab = slab[:len(slab)+1]
		e := &slab[len(slab)-1]
		e.id = string(k[32:])
		copy(e.rpHash[:], k[:32])
		db.byID[e.id] = e
		db.byRP[e.rpHash] = append(db.byRP[e.rpHash], e)
		return nil
	})
}

// lookup finds the entry of id without loading its record.
func (db *DB) lookup(id []byte) (*entry, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, ErrClosed
	}
	e := db.byID[string(id)]
	if e == nil {
		return nil, ErrNotFound
	}
	return e, nil
}

// loaded finds the entry of id and makes sure its record is decoded.
func (db *DB) loaded(id []byte) (*entry, error) {
	e, err := db.lookup(id)
	if err != nil {
		return nil, err
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
			r, err := readRecord(b, e.id)
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

// readRecord decodes one stored record; nil if it is not there (deleted
// since the lookup).
func readRecord(b *bolt.Bucket, id string) (*Record, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("credential %x: %w", id, err)
	}
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
// record that is not in the creds bucket (deleted or reset earlier in the
// same transaction) is left alone.
func putEntry(tx *bolt.Tx, e *entry, exact bool) error {
	b := tx.Bucket(bucketCreds)
	id := []byte(e.id)
	if b.Get(id) == nil {
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
	return b.Put(id, v)
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

// flushDirty stores the last-use times held in memory; every write
// transaction starts with it.
func (db *DB) flushDirty(tx *bolt.Tx, es []*entry) error {
	for _, e := range es {
		if err := putEntry(tx, e, false); err != nil {
			return err
		}
	}
	return nil
}

// flushOnClose stores last-use times and the exact counters: once closed,
// no counter beyond them can have been handed out, so a clean restart
// continues without a gap.
func (db *DB) flushOnClose(tx *bolt.Tx) error {
	for _, e := range db.byID {
		e.mu.Lock()
		changed := e.rec != nil && (e.dirty || e.rec.Counter != e.reserved)
		e.mu.Unlock()
		if !changed {
			continue
		}
		if err := putEntry(tx, e, true); err != nil {
			return err
		}
	}
	return nil
}
