package keystore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DBFile is the name of the store inside the state directory.
const DBFile = "passkeyd.db"

// DB is the durable store: credential records, settings and large blobs in
// one bbolt file. It keeps an index of every credential in memory (loaded at
// Open) and decodes records on first use, so lookups are map lookups. Every
// change is one transaction, durable when the method returns; concurrent
// changes share a commit. DB is safe for concurrent use, and only one DB
// (in any process) can have a state directory open at a time.
type DB struct {
	bolt   *bolt.DB
	window uint32 // counter values reserved per durable write

	mu       sync.RWMutex // guards closed, idx, entries, creating
	closed   bool
	idx      *ramIndex
	entries  []*entry            // by slot of idx; nil until first use
	creating map[string]struct{} // IDs whose Create is committing

	dirtyMu sync.Mutex
	dirty   map[*entry]struct{} // LastUsed newer in memory than on disk

	commits committer
}

// Option changes how [Open] opens a DB.
type Option func(*options)

type options struct {
	noSync      bool
	lockTimeout time.Duration
	window      uint32
}

// NoSync skips fsync on commit. Writes are then not durable across a power
// loss (a process crash is still safe). For tests and benchmarks only.
func NoSync() Option { return func(o *options) { o.noSync = true } }

// LockTimeout sets how long Open waits for another process to release the
// state directory before failing with [ErrLocked]; the default is 100 ms.
func LockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// CounterWindow sets how many signature counter values one durable write
// reserves (default 1024); a credential that signs so fast that it needs a
// window more than once a second gets doubled windows, up to 65536. After
// a crash counters resume above the reserved ceiling, so a credential's
// counter may skip up to a window's worth of values.
func CounterWindow(n uint32) Option {
	return func(o *options) {
		if n > 0 {
			o.window = n
		}
	}
}

// Open opens (creating if needed) the store in the state directory dir:
// the directory with mode 0700, the file [DBFile] with mode 0600. It
// migrates an older schema in one transaction and loads the credential
// index. If another process has the directory open it fails at once with
// [ErrLocked].
func Open(dir string, opts ...Option) (*DB, error) {
	o := options{lockTimeout: 100 * time.Millisecond, window: 1024}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: create state directory: %w", err)
	}
	bdb, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, &bolt.Options{
		Timeout: o.lockTimeout, NoSync: o.noSync, FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w (%s)", ErrLocked, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: open %s: %w", filepath.Join(dir, DBFile), err)
	}
	db, err := newDB(bdb, o)
	if err != nil {
		bdb.Close()
		return nil, err
	}
	return db, nil
}

func newDB(bdb *bolt.DB, o options) (*DB, error) {
	if err := migrateIfNeeded(bdb); err != nil {
		return nil, err
	}
	db := &DB{bolt: bdb, window: o.window, dirty: make(map[*entry]struct{}), creating: make(map[string]struct{})}
	if err := bdb.View(db.loadIndex); err != nil {
		return nil, err
	}
	db.commits.start(db)
	return db, nil
}

// Close writes what is held only in memory (last-use times, exact
// counters), then closes the file and releases the state directory. Later
// calls fail with [ErrClosed].
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	db.closed = true
	db.mu.Unlock()
	db.commits.stop()
	var err error
	if pending := db.unflushed(); len(pending) > 0 {
		err = db.bolt.Update(func(tx *bolt.Tx) error { return putEntries(tx, pending, true) })
	}
	if cerr := db.bolt.Close(); err == nil {
		err = cerr
	}
	return err
}

// Path returns the file name of the store.
func (db *DB) Path() string { return db.bolt.Path() }

// boltError maps bbolt's "database not open" to [ErrClosed].
func boltError(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
