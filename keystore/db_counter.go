package keystore

import (
	"errors"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrCounterExhausted means a credential has used every 32-bit signature
// counter value; it cannot sign again without repeating one.
var ErrCounterExhausted = errors.New("keystore: signature counter exhausted")

// NextCounter returns the next signature counter of a credential and notes
// the use time. Values are strictly increasing per credential and never
// repeat, even across a crash, yet most calls write nothing: one durable
// write reserves a window of values (see [CounterWindow]) that are then
// handed out from memory, and the next window is reserved in the
// background when half of the current one is used, so callers rarely wait
// for it. After a crash, counting resumes above the reservation. The use
// time is stored with the next write, or at Close.
func (db *DB) NextCounter(id []byte) (uint32, error) {
	e, err := db.loaded(id)
	if err != nil {
		return 0, err
	}
	for {
		v, r, start, err := db.handOut(e)
		if err != nil || r == nil {
			return v, err
		}
		if start {
			db.reserve(e, r)
		}
		<-r.done
		if r.err != nil {
			return 0, r.err
		}
	}
}

// reservation is a counter ceiling being made durable.
type reservation struct {
	target uint32
	done   chan struct{} // closed when the write has ended
	err    error         // set before done is closed
}

// handOut returns the next counter if the reservation allows it. Otherwise
// it returns the reservation in flight to wait for, or a new one the caller
// must start. Holding db.mu (read) makes Close wait for it, so no value is
// handed out after Close has stored the exact counters.
func (db *DB) handOut(e *entry) (v uint32, r *reservation, start bool, err error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return 0, nil, false, ErrClosed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.gone:
		return 0, nil, false, ErrNotFound
	case e.rec.Counter < e.ceiling:
		e.rec.Counter++
		e.rec.LastUsed = time.Now().UTC().Truncate(time.Microsecond)
		db.markDirty(e)
		if e.reserving == nil && e.ceiling-e.rec.Counter < max(e.window, db.window)/2 && e.ceiling < math.MaxUint32 {
			go db.reserve(e, db.startReservation(e)) // ahead of need: nobody waits for it
		}
		return e.rec.Counter, nil, false, nil
	case e.rec.Counter == math.MaxUint32:
		return 0, nil, false, ErrCounterExhausted
	case e.reserving != nil:
		return 0, e.reserving, false, nil
	}
	return 0, db.startReservation(e), true, nil
}

// maxCounterWindow bounds the window of a credential in heavy use.
const maxCounterWindow = 1 << 16

// startReservation records a reservation of the next window. A credential
// that needs windows more than once a second gets doubled windows (up to
// maxCounterWindow), so that it needs at most a few commits a second
// however fast it signs. e.mu must be held.
func (db *DB) startReservation(e *entry) *reservation {
	now := time.Now()
	if e.window == 0 || now.Sub(e.lastReserve) >= time.Second {
		e.window = db.window
	} else {
		e.window = min(2*e.window, max(db.window, maxCounterWindow))
	}
	e.lastReserve = now
	r := &reservation{target: reserveFrom(e.rec.Counter, e.window), done: make(chan struct{})}
	e.reserving = r
	e.reserved = max(e.reserved, r.target)
	return r
}

// reserve stores a new counter ceiling and, once durable, lets it be used.
// A failed write leaves the ceiling where it was and fails the waiters.
func (db *DB) reserve(e *entry, r *reservation) {
	r.err = db.commits.submit(func(tx *bolt.Tx) error { return putEntry(tx, e, false) }, nil)
	e.mu.Lock()
	if r.err == nil {
		e.ceiling = max(e.ceiling, r.target)
	}
	e.reserving = nil
	e.mu.Unlock()
	close(r.done)
}

// reserveFrom is the ceiling of a reservation starting after counter c.
func reserveFrom(c, window uint32) uint32 {
	if c > math.MaxUint32-window {
		return math.MaxUint32
	}
	return c + window
}
