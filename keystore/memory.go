package keystore

import (
	"bytes"
	"math"
	"sync"
	"time"
)

// Memory is a store that lives in process memory, for tests and
// --ephemeral runs. It behaves as [DB] does, durability aside: the same
// validation, ErrExists/ErrNotFound answers, newest-first order, counters
// and Reset. It is safe for concurrent use.
type Memory struct {
	mu         sync.Mutex
	closed     bool
	byID       map[string]*Record
	settings   map[string][]byte
	largeBlobs []byte
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{byID: make(map[string]*Record), settings: make(map[string][]byte)}
}

// Create stores a copy of rec, or fails with [ErrExists].
func (m *Memory) Create(rec *Record) error {
	r := rec.Clone()
	normalizeTimes(r)
	if err := validateRecord(r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.byID[string(r.ID)] != nil {
		return ErrExists
	}
	m.byID[string(r.ID)] = r
	return nil
}

// Credential returns a copy of one record, or [ErrNotFound].
func (m *Memory) Credential(id []byte) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(id)
	if err != nil {
		return nil, err
	}
	return r.Clone(), nil
}

// find returns the stored record of id. m.mu must be held.
func (m *Memory) find(id []byte) (*Record, error) {
	if m.closed {
		return nil, ErrClosed
	}
	r := m.byID[string(id)]
	if r == nil {
		return nil, ErrNotFound
	}
	return r, nil
}

// Credentials returns copies of the records of one RP (by SHA-256 of its
// ID), newest first; with a nil hash, those of every RP.
func (m *Memory) Credentials(rpIDHash *[32]byte) ([]*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	out := []*Record{}
	for _, r := range m.byID {
		if rpIDHash == nil || r.RPIDHash() == *rpIDHash {
			out = append(out, r.Clone())
		}
	}
	sortNewestFirst(out)
	return out, nil
}

// Update changes one record; fn sees a copy, and an error from fn cancels
// the update. As with [DB.Update], the counter may only be raised.
func (m *Memory) Update(id []byte, fn func(*Record) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(id)
	if err != nil {
		return err
	}
	next := r.Clone()
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
	next.Counter = max(next.Counter, r.Counter)
	m.byID[string(id)] = next
	return nil
}

// Delete removes one record, or answers [ErrNotFound].
func (m *Memory) Delete(id []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.find(id); err != nil {
		return err
	}
	delete(m.byID, string(id))
	return nil
}

// NextCounter returns the next signature counter of a credential and notes
// the use time.
func (m *Memory) NextCounter(id []byte) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(id)
	if err != nil {
		return 0, err
	}
	if r.Counter == math.MaxUint32 {
		return 0, ErrCounterExhausted
	}
	r.Counter++
	r.LastUsed = time.Now().UTC().Truncate(time.Microsecond)
	return r.Counter, nil
}

// Setting returns the value stored under key, or nil, nil when unset.
func (m *Memory) Setting(key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	return bytes.Clone(m.settings[key]), nil
}

// PutSetting stores value under key; a nil value removes the key.
func (m *Memory) PutSetting(key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if value == nil {
		delete(m.settings, key)
	} else {
		m.settings[key] = bytes.Clone(value)
	}
	return nil
}

// LargeBlobs returns the serialized large-blob array, or nil if never written.
func (m *Memory) LargeBlobs() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	return bytes.Clone(m.largeBlobs), nil
}

// PutLargeBlobs replaces the serialized large-blob array.
func (m *Memory) PutLargeBlobs(array []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.largeBlobs = bytes.Clone(array)
	return nil
}

// Reset wipes every credential, setting and the large-blob array.
func (m *Memory) Reset() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	clear(m.byID)
	clear(m.settings)
	m.largeBlobs = nil
	return nil
}

// Close forgets everything; later calls fail with [ErrClosed].
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	m.byID, m.settings, m.largeBlobs = nil, nil, nil
	return nil
}
