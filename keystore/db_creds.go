package keystore

import (
	"bytes"
	"errors"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Create stores a new record; it is durable when Create returns. It fails
// with [ErrExists] if the ID is taken. Concurrent Creates share one commit.
// Times are kept in UTC at microsecond precision. The stored counter starts
// a reservation (see [DB.NextCounter]), so the first assertions need no write.
func (db *DB) Create(rec *Record) error {
	r := packed(rec)
	normalizeTimes(r)
	if err := validateRecord(r); err != nil {
		return err
	}
	if err := db.claim(r.ID); err != nil {
		return err
	}
	e := &entry{id: string(r.ID), rec: r, ceiling: reserveFrom(r.Counter, db.window)}
	e.reserved = e.ceiling
	stored := *r
	stored.Counter = e.ceiling
	h := r.RPIDHash()
	v, err := encodeRecord(&stored)
	if err == nil {
		err = db.commits.submit(func(tx *bolt.Tx) (err error) {
			e.seq, err = insertRecord(tx, r.ID, &h, v)
			return err
		}, func() { db.add(e, h) })
	}
	db.mu.Lock()
	delete(db.creating, e.id)
	db.mu.Unlock()
	return err
}

// claim reserves id for a Create in flight, so a concurrent Create of the
// same ID fails at once.
func (db *DB) claim(id []byte) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return ErrClosed
	}
	_, creating := db.creating[string(id)]
	if creating || db.idx.find(id) != noSlot {
		return ErrExists
	}
	db.creating[string(id)] = struct{}{}
	return nil
}

// insertRecord stores an encoded record under the next sequence number
// and indexes it, both at the end of their buckets. Uniqueness of IDs is
// the caller's (DB.claim): the in-memory index holds every ID.
func insertRecord(tx *bolt.Tx, id []byte, rpHash *[32]byte, v []byte) (uint64, error) {
	creds, ids := tx.Bucket(bucketCreds), tx.Bucket(bucketIDs)
	creds.FillPercent = 0.9 // keys only grow: pages split at the end can be nearly full
	ids.FillPercent = 0.9
	seq, err := creds.NextSequence()
	if err != nil {
		return 0, err
	}
	key := seqKey(seq)
	if err := creds.Put(key, v); err != nil {
		return 0, err
	}
	return seq, ids.Put(key, indexValue(rpHash, id))
}

// add makes a committed entry visible.
func (db *DB) add(e *entry, rpHash [32]byte) {
	db.mu.Lock()
	defer db.mu.Unlock()
	e.slot = db.idx.add([]byte(e.id), rpHash, e.seq)
	db.entries = append(db.entries, e)
}

// remove hides a deleted entry.
func (db *DB) remove(e *entry) {
	db.mu.Lock()
	defer db.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone { // wiped by a Reset since
		return
	}
	db.idx.remove(e.slot)
	db.entries[e.slot] = nil
	e.gone = true
}

// Credential returns a copy of one record, or [ErrNotFound].
func (db *DB) Credential(id []byte) (*Record, error) {
	e, err := db.lookup(id)
	if err != nil {
		return nil, err
	}
	if r, loaded, err := tryClone(e); loaded {
		return r, err
	}
	if err := db.ensureLoaded([]*entry{e}); err != nil {
		return nil, err
	}
	return snapshot(e)
}

// snapshot copies the record of an entry that has been loaded.
func snapshot(e *entry) (*Record, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return nil, ErrNotFound
	}
	return e.rec.Clone(), nil
}

// tryClone is snapshot in one visit to the entry whether or not it is
// loaded; loaded is false, and nothing returned, if its record is not
// decoded yet.
func tryClone(e *entry) (r *Record, loaded bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.gone:
		return nil, true, ErrNotFound
	case e.rec == nil:
		return nil, false, nil
	}
	return e.rec.Clone(), true, nil
}

// Credentials returns copies of the records of one RP (by SHA-256 of its
// ID), newest first; with a nil hash, those of every RP. An RP without
// credentials gives an empty result, not an error.
func (db *DB) Credentials(rpIDHash *[32]byte) ([]*Record, error) {
	es, err := db.entriesOf(rpIDHash)
	if err != nil {
		return nil, err
	}
	// A first pass over the entries, then the copies: the entries' cache
	// misses overlap in the first, which a pass that copied as it went
	// would take one after another.
	if err := db.ensureLoaded(es); err != nil {
		return nil, err
	}
	out := make([]*Record, 0, len(es))
	for _, e := range es {
		if r, err := snapshot(e); err == nil {
			out = append(out, r)
		}
	}
	sortNewestFirst(out)
	return out, nil
}

func (db *DB) entriesOf(rpIDHash *[32]byte) ([]*entry, error) {
	db.mu.RLock()
	es, complete, err := db.collect(rpIDHash, false)
	db.mu.RUnlock()
	if complete || err != nil {
		return es, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	es, _, err = db.collect(rpIDHash, true)
	return es, err
}

// collect lists the entries of one RP (nil: of every RP), making those
// that have none yet if create is set, and otherwise giving up (complete
// is false). db.mu must be held (for writing to create).
func (db *DB) collect(rpIDHash *[32]byte, create bool) (es []*entry, complete bool, err error) {
	if db.closed {
		return nil, false, ErrClosed
	}
	if rpIDHash == nil {
		slots := db.idx.all()
		es = make([]*entry, len(slots))
		for i, s := range slots {
			if es[i] = db.entryAt(s, create); es[i] == nil {
				return nil, false, nil
			}
		}
		return es, true, nil
	}
	es = make([]*entry, 0, 8) // most RPs have a few credentials here
	for s := db.idx.firstOfRP(rpIDHash); s != noSlot; s = db.idx.nextOfRP(s) {
		e := db.entryAt(s, create)
		if e == nil {
			return nil, false, nil
		}
		es = append(es, e)
	}
	return es, true, nil
}

// sortNewestFirst orders records by creation time, newest first, then by ID.
func sortNewestFirst(rs []*Record) {
	slices.SortFunc(rs, func(a, b *Record) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.ID, b.ID)
	})
}

// errIDChanged refuses an Update that changes the credential ID.
var errIDChanged = errors.New("keystore: Update may not change the credential ID")

// Update changes one record in one transaction; fn sees a copy it may
// modify, and an error from fn cancels the update. Updates of one record
// are serialized. The counter may be raised, never lowered (lower values
// are ignored); a changed RP ID moves the record in the RP index.
func (db *DB) Update(id []byte, fn func(*Record) error) error {
	e, err := db.loaded(id)
	if err != nil {
		return err
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	next, err := snapshot(e)
	if err != nil {
		return err
	}
	if err := fn(next); err != nil {
		return err
	}
	if !bytes.Equal(next.ID, id) {
		return errIDChanged
	}
	normalizeTimes(next)
	if err := validateRecord(next); err != nil {
		return err
	}
	next = packed(next)
	return db.commits.submit(func(tx *bolt.Tx) error { return db.writeUpdate(tx, e, next) },
		func() { db.applyUpdate(e, next) })
}

// writeUpdate stores next with e's live counter state and refiles it in
// the ids bucket if the RP changed.
func (db *DB) writeUpdate(tx *bolt.Tx, e *entry, next *Record) error {
	key := seqKey(e.seq)
	iv := indexedAs(tx, key, next.ID)
	if iv == nil {
		return ErrNotFound
	}
	h := next.RPIDHash()
	moved := !bytes.Equal(iv[:32], h[:])
	e.mu.Lock()
	e.reserved = max(e.reserved, next.Counter)
	stored := *next
	stored.Counter = e.reserved
	stored.LastUsed = latest(next.LastUsed, e.rec.LastUsed)
	e.mu.Unlock()
	v, err := encodeRecord(&stored)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketCreds).Put(key, v); err != nil {
		return err
	}
	if moved {
		return tx.Bucket(bucketIDs).Put(key, indexValue(&h, next.ID))
	}
	return nil
}

// indexedAs returns the ids entry under key if it is id's, or nil: after a
// Reset, which restarts the sequence, key may name another credential.
func indexedAs(tx *bolt.Tx, key, id []byte) []byte {
	v := tx.Bucket(bucketIDs).Get(key)
	if len(v) <= 32 || !bytes.Equal(v[32:], id) {
		return nil
	}
	return v
}

// applyUpdate installs next in memory, keeping the counter and last use
// that NextCounter may have moved meanwhile.
func (db *DB) applyUpdate(e *entry, next *Record) {
	db.mu.Lock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.gone && next.RPIDHash() != db.idx.rpHash(e.slot) {
		db.idx.moveRP(e.slot, next.RPIDHash())
	}
	db.mu.Unlock()
	next.Counter = max(next.Counter, e.rec.Counter)
	next.LastUsed = latest(next.LastUsed, e.rec.LastUsed)
	e.ceiling = max(e.ceiling, next.Counter)
	e.rec = next
}

// Delete removes one record durably, or answers [ErrNotFound].
func (db *DB) Delete(id []byte) error {
	e, err := db.lookup(id)
	if err != nil {
		return err
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	return db.commits.submit(func(tx *bolt.Tx) error {
		key := seqKey(e.seq)
		if indexedAs(tx, key, id) == nil {
			return ErrNotFound
		}
		if err := tx.Bucket(bucketCreds).Delete(key); err != nil {
			return err
		}
		return tx.Bucket(bucketIDs).Delete(key)
	}, func() { db.remove(e) })
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
