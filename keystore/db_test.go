package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenRefusesSecondOpener(t *testing.T) {
	dir := t.TempDir()
	openTestDB(t, dir)
	start := time.Now()
	_, err := Open(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open: %v, want ErrLocked naming %s", err, dir)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second Open took %v to fail", d)
	}
}

func TestOpenModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	openTestDB(t, dir)
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, DBFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
}

// writeV0 makes a file as it was before schema versions: only the creds
// bucket, no meta and no index.
func writeV0(t *testing.T, dir string, recs ...*Record) {
	t.Helper()
	bdb, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketCreds)
		if err != nil {
			return err
		}
		for _, r := range recs {
			v, err := encodeRecord(r)
			if err != nil {
				return err
			}
			if err := b.Put(r.ID, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationFromV0(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	a, b := f.record(t, "a.example"), f.record(t, "b.example")
	a.Counter = 41
	writeV0(t, dir, a, b)
	db := openTestDB(t, dir)
	byRP, err := db.Credentials(rpHash("a.example"))
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, byRP, a)
	if c := mustNextCounter(t, db, a.ID); c != 42 {
		t.Errorf("counter after migration: %d, want 42", c)
	}
	if err := db.PutSetting("enabled", []byte{1}); err != nil {
		t.Fatal(err)
	}
	c := f.record(t, "a.example") // numbered after the migrated records
	mustCreate(t, db, c)
	byRP, _ = db.Credentials(rpHash("a.example"))
	sameIDs(t, byRP, c, a)
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if v, err := readSchemaVersion(tx); v != schemaVersion || err != nil {
			t.Errorf("schema after migration: %d, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationFailureLeavesFileUntouched(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	writeV0(t, dir, f.record(t, "a.example"))
	bdb, _ := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCreds).Put([]byte("bad"), []byte{0xff}) })
	bdb.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "migrate schema 0 to 1") {
		t.Fatalf("Open of a damaged v0 file: %v", err)
	}
	bdb, _ = bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	defer bdb.Close()
	bdb.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) != nil || tx.Bucket(bucketIndexV1) != nil || tx.Bucket(bucketIDs) != nil {
			t.Error("a failed migration left part of its work behind")
		}
		return nil
	})
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir)
	db.commits.submit(func(tx *bolt.Tx) error { return writeSchemaVersion(tx, schemaVersion+1) }, nil)
	db.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestDamagedRecordIsAnError(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	db := openTestDB(t, dir)
	r := f.record(t, "a.example")
	mustCreate(t, db, r)
	e, _ := db.lookup(r.ID)
	db.Close()
	bdb, _ := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCreds).Put(seqKey(e.seq), []byte{0xa0}) })
	bdb.Close()
	db = openTestDB(t, dir)
	if _, err := db.Credential(r.ID); !errors.Is(err, errBadRecord) {
		t.Errorf("damaged record: %v", err)
	}
	if _, err := db.Credentials(nil); !errors.Is(err, errBadRecord) {
		t.Errorf("damaged record among all: %v", err)
	}
}

// crash stops db as a killed process would: no final flush.
func crash(db *DB) {
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	db.commits.stop()
	db.bolt.Close()
}

func TestCountersSurviveCrashInProcess(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	db := openTestDB(t, dir, CounterWindow(100))
	r := f.record(t, "a.example")
	mustCreate(t, db, r)
	var last uint32
	for range 250 {
		last = mustNextCounter(t, db, r.ID)
	}
	crash(db)
	db = openTestDB(t, dir, CounterWindow(100))
	// Fast use doubles the window, so the skip is bounded by the largest one.
	if c := mustNextCounter(t, db, r.ID); c <= last || c > last+maxCounterWindow {
		t.Errorf("after a crash: counter %d, last handed out %d", c, last)
	}
}

func TestCleanCloseKeepsExactCounter(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	db := openTestDB(t, dir)
	r := f.record(t, "a.example")
	mustCreate(t, db, r)
	for range 7 {
		mustNextCounter(t, db, r.ID)
	}
	db.Close()
	db = openTestDB(t, dir)
	if c := mustNextCounter(t, db, r.ID); c != 8 {
		t.Errorf("after a clean close: counter %d, want 8", c)
	}
}

// storedRecord reads a record as it is on disk.
func storedRecord(t *testing.T, db *DB, id []byte) *Record {
	t.Helper()
	e, err := db.lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	var r *Record
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		r, err = readRecord(tx.Bucket(bucketCreds), e.seq, e.id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLastUsedStoredLazily(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	db := openTestDB(t, dir)
	r := f.record(t, "a.example")
	mustCreate(t, db, r)
	mustNextCounter(t, db, r.ID)
	used := mustCredential(t, db, r.ID).LastUsed
	if !storedRecord(t, db, r.ID).LastUsed.IsZero() {
		t.Fatal("NextCounter wrote the record: it should hold LastUsed in memory")
	}
	if err := db.PutSetting("any write", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if got := storedRecord(t, db, r.ID).LastUsed; !got.Equal(used) {
		t.Errorf("after the next write, stored LastUsed is %v, want %v", got, used)
	}
}

func TestConcurrentCreatesShareCommits(t *testing.T) {
	db, f := openTestDB(t, t.TempDir()), newFixture()
	const n = 64
	recs := make([]*Record, n)
	for i := range recs {
		recs[i] = f.record(t, "a.example")
	}
	before := db.commits.txns.Load()
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Go(func() { mustCreate(t, db, r) })
	}
	wg.Wait()
	txns := db.commits.txns.Load() - before
	t.Logf("%d concurrent Creates in %d commits", n, txns)
	if txns >= n/2 {
		t.Errorf("%d concurrent Creates took %d commits: they are not grouped", n, txns)
	}
	all, _ := db.Credentials(nil)
	if len(all) != n {
		t.Errorf("%d records stored, want %d", len(all), n)
	}
}

func TestConcurrentCreateSameID(t *testing.T) {
	db, f := openTestDB(t, t.TempDir()), newFixture()
	r := f.record(t, "a.example")
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { errs <- db.Create(r) })
	}
	wg.Wait()
	close(errs)
	var ok, exists int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrExists):
			exists++
		default:
			t.Error(err)
		}
	}
	if ok != 1 || exists != 15 {
		t.Errorf("%d Creates succeeded and %d got ErrExists, want 1 and 15", ok, exists)
	}
}

// TestDeleteDuringCounting deletes a credential while other goroutines count
// on it; the record must not come back through a counter reservation.
func TestDeleteDuringCounting(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	db := openTestDB(t, dir, CounterWindow(4))
	r := f.record(t, "a.example")
	mustCreate(t, db, r)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				if _, err := db.NextCounter(r.ID); err != nil {
					if !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := db.Delete(r.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	db.Close()
	db = openTestDB(t, dir)
	if _, err := db.Credential(r.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted credential after reopen: %v", err)
	}
	if all, _ := db.Credentials(nil); len(all) != 0 {
		t.Errorf("%d credentials after reopen, want 0", len(all))
	}
}

func TestOpenLoadsNoRecord(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	db := openTestDB(t, dir)
	r := f.record(t, "a.example")
	mustCreate(t, db, r)
	db.Close()
	db = openTestDB(t, dir)
	e, _ := db.lookup(r.ID)
	if e.rec != nil {
		t.Error("Open decoded a record; it should only load the index")
	}
	if got := mustCredential(t, db, r.ID); !bytes.Equal(got.PublicKey, r.PublicKey) {
		t.Error("lazy load gave another record")
	}
}

// TestCloseDuringCounting closes the store while goroutines count: Close
// stores exact counters, so none may have been handed out after it.
func TestCloseDuringCounting(t *testing.T) {
	for round := range 20 {
		dir, f := t.TempDir(), newFixture()
		db := openTestDB(t, dir, CounterWindow(8))
		r := f.record(t, "a.example")
		mustCreate(t, db, r)
		var mu sync.Mutex
		var highest uint32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					c, err := db.NextCounter(r.ID)
					if err != nil {
						if !errors.Is(err, ErrClosed) {
							t.Error(err)
						}
						return
					}
					mu.Lock()
					highest = max(highest, c)
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(round) * time.Millisecond)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		db = openTestDB(t, dir)
		if c := mustNextCounter(t, db, r.ID); c <= highest {
			t.Fatalf("round %d: counter %d after Close, %d was handed out", round, c, highest)
		}
	}
}

func TestNextWindowReservedAhead(t *testing.T) {
	db, f := openTestDB(t, t.TempDir(), CounterWindow(100)), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, db, r)
	for range 60 { // past half of the first window
		mustNextCounter(t, db, r.ID)
	}
	e, _ := db.lookup(r.ID)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		e.mu.Lock()
		ceiling := e.ceiling
		e.mu.Unlock()
		if ceiling > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the next window was not reserved ahead of need")
		}
	}
	if got := storedRecord(t, db, r.ID).Counter; got <= 100 {
		t.Errorf("stored counter %d: the reservation is not durable", got)
	}
}

// TestStaleEntryAfterResetWritesNothing: Reset restarts the sequence, so a
// new credential can get the key of a wiped one. A write of the wiped
// credential's in-memory record that runs in the same commit as the Reset
// (before its in-memory side marks the entry gone) must not land on the
// new credential's record.
func TestStaleEntryAfterResetWritesNothing(t *testing.T) {
	dir, f := t.TempDir(), newFixture()
	db := openTestDB(t, dir)
	old := f.record(t, "old.example")
	mustCreate(t, db, old)
	stale, err := db.loaded(old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Reset(); err != nil {
		t.Fatal(err)
	}
	fresh := f.record(t, "fresh.example")
	mustCreate(t, db, fresh)
	e, err := db.lookup(fresh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.seq != stale.seq {
		t.Fatalf("the new credential has key %d, the wiped one had %d: the test needs them equal", e.seq, stale.seq)
	}
	stale.mu.Lock()
	stale.gone = false // as in the commit that also holds the Reset
	stale.mu.Unlock()
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return putEntry(tx, stale, false) }); err != nil {
		t.Fatal(err)
	}
	if got := storedRecord(t, db, fresh.ID); got.RPID != "fresh.example" || !bytes.Equal(got.ID, fresh.ID) {
		t.Fatalf("the new credential's record was overwritten: RP %q", got.RPID)
	}
}
