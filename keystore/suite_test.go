package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// The behavioural suites every store and every sealer backend runs. They
// live in the internal test package so a backend's tests can reuse their own
// helpers; conformance_test.go asserts the provider's real interfaces.
//
// Adding a backend is one line in its test:
//
//	runSealerSuite(t, sealerBackend{open: func(t *testing.T, dir string) sealerUnderTest { ... }, persistent: true})
//	runStoreSuite(t, func(t *testing.T, dir string) storeUnderTest { ... })

// storeUnderTest is provider.Store plus Close (keystore cannot import provider).
type storeUnderTest interface {
	Create(rec *Record) error
	Credential(id []byte) (*Record, error)
	Credentials(rpIDHash *[32]byte) ([]*Record, error)
	Update(id []byte, fn func(*Record) error) error
	Delete(id []byte) error
	NextCounter(id []byte) (uint32, error)
	Setting(key string) ([]byte, error)
	PutSetting(key string, value []byte) error
	LargeBlobs() ([]byte, error)
	PutLargeBlobs(array []byte) error
	Reset() error
	Close() error
}

// sealerUnderTest is provider.Sealer.
type sealerUnderTest interface {
	NewKey(credID []byte) (sealed []byte, signer crypto.Signer, err error)
	Signer(credID, sealed []byte) (crypto.Signer, error)
	Seal(credID, plaintext []byte) ([]byte, error)
	Open(credID, sealed []byte) ([]byte, error)
}

// openStore opens the store kept in dir; opening it again after Close
// must give back what was stored.
type openStore func(t *testing.T, dir string) storeUnderTest

// runStoreSuite runs the store behaviour suite against one backend.
func runStoreSuite(t *testing.T, open openStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open openStore)
	}{
		{"CreateAndFind", testCreateAndFind},
		{"CreateRefusesDuplicatesAndInvalid", testCreateRefuses},
		{"ReturnsCopies", testReturnsCopies},
		{"SignWithStoredKey", testSignWithStoredKey},
		{"CountersIncrease", testCountersIncrease},
		{"CountersConcurrent", testCountersConcurrent},
		{"Update", testUpdate},
		{"UpdateMovesRP", testUpdateMovesRP},
		{"Delete", testDelete},
		{"SettingsAndLargeBlobs", testSettingsAndLargeBlobs},
		{"Reopen", testReopen},
		{"Reset", testReset},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// fixture makes records with real P-256 keys sealed by one MemorySealer.
type fixture struct {
	sealer *MemorySealer
	clock  time.Time
}

func newFixture() *fixture {
	return &fixture{sealer: NewMemorySealer(), clock: time.Date(2026, 1, 2, 3, 4, 5, 678912345, time.UTC)}
}

// record returns a new record for rpID with a fresh sealed key; each one
// is created a second after the previous.
func (f *fixture) record(t testing.TB, rpID string) *Record {
	t.Helper()
	id := make([]byte, 16)
	rand.Read(id)
	sealed, signer, err := f.sealer.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signer.Public().(*ecdsa.PublicKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f.clock = f.clock.Add(time.Second)
	return &Record{
		ID: id, RPID: rpID, RPName: "RP " + rpID, UserID: []byte("user-" + rpID),
		UserName: "alice@" + rpID, UserDisplayName: "Alice", PublicKey: pub, SealedKey: sealed,
		Discoverable: true, CredProtect: 2, BackupEligible: true, CredBlob: []byte("blob"),
		Created: f.clock,
	}
}

func mustCreate(t testing.TB, s storeUnderTest, rs ...*Record) {
	t.Helper()
	for _, r := range rs {
		if err := s.Create(r); err != nil {
			t.Fatalf("Create %x: %v", r.ID, err)
		}
	}
}

func mustCredential(t testing.TB, s storeUnderTest, id []byte) *Record {
	t.Helper()
	r, err := s.Credential(id)
	if err != nil {
		t.Fatalf("Credential %x: %v", id, err)
	}
	return r
}

func mustNextCounter(t testing.TB, s storeUnderTest, id []byte) uint32 {
	t.Helper()
	c, err := s.NextCounter(id)
	if err != nil {
		t.Fatalf("NextCounter %x: %v", id, err)
	}
	return c
}

func rpHash(rpID string) *[32]byte {
	h := sha256.Sum256([]byte(rpID))
	return &h
}

// sameRecord compares what a store must give back of a created record.
func sameRecord(t testing.TB, got, want *Record) {
	t.Helper()
	w := want.Clone()
	normalizeTimes(w)
	g := got.Clone()
	g.Counter, w.Counter = 0, 0
	g.LastUsed, w.LastUsed = time.Time{}, time.Time{}
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		t.Errorf("record differs:\n got %+v\nwant %+v", g, w)
	}
}

func ids(rs []*Record) [][]byte {
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func sameIDs(t testing.TB, got []*Record, want ...*Record) {
	t.Helper()
	if !slices.EqualFunc(ids(got), ids(want), bytes.Equal) {
		t.Errorf("got IDs %x, want %x", ids(got), ids(want))
	}
}

func testCreateAndFind(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	a1, b1, a2 := f.record(t, "a.example"), f.record(t, "b.example"), f.record(t, "a.example")
	mustCreate(t, s, a1, b1, a2)
	sameRecord(t, mustCredential(t, s, a1.ID), a1)
	sameRecord(t, mustCredential(t, s, b1.ID), b1)

	byRP, err := s.Credentials(rpHash("a.example"))
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, byRP, a2, a1) // newest first
	all, err := s.Credentials(nil)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, all, a2, b1, a1)
	none, err := s.Credentials(rpHash("c.example"))
	if err != nil || len(none) != 0 {
		t.Errorf("unknown RP: %d records, %v", len(none), err)
	}
	if _, err := s.Credential([]byte("no such credential")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ID: %v, want ErrNotFound", err)
	}
}

func testCreateRefuses(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, s, r)
	dup := f.record(t, "b.example")
	dup.ID = r.ID
	if err := s.Create(dup); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate ID: %v, want ErrExists", err)
	}
	sameRecord(t, mustCredential(t, s, r.ID), r)
	for name, spoil := range map[string]func(*Record){
		"no ID":          func(r *Record) { r.ID = nil },
		"no RP":          func(r *Record) { r.RPID = "" },
		"short key":      func(r *Record) { r.PublicKey = r.PublicKey[:33] },
		"no sealed key":  func(r *Record) { r.SealedKey = nil },
		"credProtect 4":  func(r *Record) { r.CredProtect = 4 },
		"1024-byte ID":   func(r *Record) { r.ID = make([]byte, 1024) },
		"compressed key": func(r *Record) { r.PublicKey[0] = 2 },
	} {
		bad := f.record(t, "a.example")
		spoil(bad)
		if err := s.Create(bad); err == nil {
			t.Errorf("%s: Create accepted an invalid record", name)
		}
	}
}

func testReturnsCopies(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, s, r)
	r.UserName = "changed after Create"
	got := mustCredential(t, s, r.ID)
	got.UserName, got.PublicKey[1] = "changed after Credential", got.PublicKey[1]^1
	all, _ := s.Credentials(nil)
	all[0].RPName = "changed after Credentials"
	again := mustCredential(t, s, r.ID)
	if again.UserName != "alice@a.example" || again.RPName != "RP a.example" || bytes.Equal(again.PublicKey, got.PublicKey) {
		t.Errorf("the store shares memory with its callers: %+v", again)
	}
}

func testSignWithStoredKey(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, s, r)
	got := mustCredential(t, s, r.ID)
	signer, err := f.sealer.Signer(got.ID, got.SealedKey)
	if err != nil {
		t.Fatal(err)
	}
	verifyWithStoredKey(t, signer, got.PublicKey)
}

// verifyWithStoredKey signs with signer and verifies with the SEC1 public key.
func verifyWithStoredKey(t testing.TB, signer crypto.Signer, sec1 []byte) {
	t.Helper()
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), sec1)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("authenticatorData || clientDataHash"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("signature does not verify with the stored public key")
	}
}

func testCountersIncrease(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	a, b := f.record(t, "a.example"), f.record(t, "a.example")
	mustCreate(t, s, a, b)
	var last uint32
	for i := range 3000 { // beyond a default reservation window
		c := mustNextCounter(t, s, a.ID)
		if c <= last {
			t.Fatalf("call %d: counter %d after %d", i, c, last)
		}
		last = c
	}
	got := mustCredential(t, s, a.ID)
	if got.Counter != last {
		t.Errorf("record counter %d, last handed out %d", got.Counter, last)
	}
	if got.LastUsed.IsZero() || time.Since(got.LastUsed) > time.Minute {
		t.Errorf("LastUsed %v not set by NextCounter", got.LastUsed)
	}
	if c := mustNextCounter(t, s, b.ID); c == 0 || c > 3000 {
		t.Errorf("other credential's counter %d: counters are per credential", c)
	}
	if _, err := s.NextCounter([]byte("no such credential")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ID: %v, want ErrNotFound", err)
	}
}

func testCountersConcurrent(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, s, r)
	const workers, each = 16, 400
	got := make([][]uint32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				c, err := s.NextCounter(r.ID)
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], c)
			}
		})
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for w, cs := range got {
		if !slices.IsSorted(cs) {
			t.Errorf("worker %d saw counters go back", w)
		}
		for _, c := range cs {
			if seen[c] {
				t.Fatalf("counter %d handed out twice", c)
			}
			seen[c] = true
		}
	}
}

func testUpdate(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, s, r)
	for range 5 {
		mustNextCounter(t, s, r.ID)
	}
	err := s.Update(r.ID, func(x *Record) error {
		x.UserName, x.CredProtect, x.Counter = "bob@a.example", 3, 1 // counter may not go back
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := mustCredential(t, s, r.ID)
	if got.UserName != "bob@a.example" || got.CredProtect != 3 || got.Counter != 5 {
		t.Errorf("after Update: user %q, credProtect %d, counter %d", got.UserName, got.CredProtect, got.Counter)
	}
	if c := mustNextCounter(t, s, r.ID); c != 6 {
		t.Errorf("counter after Update: %d, want 6", c)
	}
	cancel := errors.New("cancelled")
	if err := s.Update(r.ID, func(x *Record) error { x.UserName = "eve"; return cancel }); err != cancel {
		t.Errorf("fn error: %v", err)
	}
	if err := s.Update(r.ID, func(x *Record) error { x.ID = []byte("another ID, 16+ bytes"); return nil }); err == nil {
		t.Error("Update changed the ID")
	}
	if err := s.Update(r.ID, func(x *Record) error { x.PublicKey = nil; return nil }); err == nil {
		t.Error("Update stored an invalid record")
	}
	if got := mustCredential(t, s, r.ID); got.UserName != "bob@a.example" {
		t.Errorf("a failed Update changed the record: %q", got.UserName)
	}
	if err := s.Update([]byte("no such credential"), func(*Record) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ID: %v, want ErrNotFound", err)
	}
}

func testUpdateMovesRP(t *testing.T, open openStore) {
	dir := t.TempDir()
	s, f := open(t, dir), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, s, r)
	if err := s.Update(r.ID, func(x *Record) error { x.RPID = "b.example"; return nil }); err != nil {
		t.Fatal(err)
	}
	check := func(s storeUnderTest) {
		t.Helper()
		a, _ := s.Credentials(rpHash("a.example"))
		b, _ := s.Credentials(rpHash("b.example"))
		if len(a) != 0 || len(b) != 1 {
			t.Errorf("after changing the RP: %d under the old, %d under the new", len(a), len(b))
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(open(t, dir))
}

func testDelete(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	a, b := f.record(t, "a.example"), f.record(t, "a.example")
	mustCreate(t, s, a, b)
	if err := s.Delete(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credential(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted credential: %v", err)
	}
	if _, err := s.NextCounter(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("counter of a deleted credential: %v", err)
	}
	if err := s.Delete(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	left, _ := s.Credentials(rpHash("a.example"))
	sameIDs(t, left, b)
	mustCreate(t, s, a) // the ID is free again
}

func testSettingsAndLargeBlobs(t *testing.T, open openStore) {
	s := open(t, t.TempDir())
	if v, err := s.Setting("enabled"); v != nil || err != nil {
		t.Errorf("unset setting: %q, %v", v, err)
	}
	if v, err := s.LargeBlobs(); v != nil || err != nil {
		t.Errorf("unwritten large blobs: %q, %v", v, err)
	}
	value := []byte{1, 2, 3}
	if err := s.PutSetting("enabled", value); err != nil {
		t.Fatal(err)
	}
	value[0] = 9 // the store keeps its own copy
	if err := s.PutSetting("empty", []byte{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Setting("enabled"); !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Errorf("setting: %v", v)
	}
	if v, _ := s.Setting("empty"); v == nil || len(v) != 0 {
		t.Errorf("empty setting read back as %#v", v)
	}
	if err := s.PutSetting("enabled", nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Setting("enabled"); v != nil {
		t.Errorf("removed setting: %v", v)
	}
	if err := s.PutLargeBlobs([]byte("array")); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.LargeBlobs(); string(v) != "array" {
		t.Errorf("large blobs: %q", v)
	}
}

func testReopen(t *testing.T, open openStore) {
	dir := t.TempDir()
	s, f := open(t, dir), newFixture()
	a, b := f.record(t, "a.example"), f.record(t, "b.example")
	mustCreate(t, s, a, b)
	var last uint32
	for range 10 {
		last = mustNextCounter(t, s, a.ID)
	}
	used := mustCredential(t, s, a.ID).LastUsed
	if err := s.PutSetting("pin", []byte("hash")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLargeBlobs([]byte("blobs")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	got := mustCredential(t, s, a.ID)
	sameRecord(t, got, a)
	sameRecord(t, mustCredential(t, s, b.ID), b)
	if !got.LastUsed.Equal(used) {
		t.Errorf("LastUsed %v after reopen, was %v", got.LastUsed, used)
	}
	if c := mustNextCounter(t, s, a.ID); c <= last {
		t.Errorf("counter %d after reopen, handed out %d before", c, last)
	}
	byRP, _ := s.Credentials(rpHash("b.example"))
	sameIDs(t, byRP, b)
	if v, _ := s.Setting("pin"); string(v) != "hash" {
		t.Errorf("setting after reopen: %q", v)
	}
	if v, _ := s.LargeBlobs(); string(v) != "blobs" {
		t.Errorf("large blobs after reopen: %q", v)
	}
	signer, err := f.sealer.Signer(got.ID, got.SealedKey)
	if err != nil {
		t.Fatal(err)
	}
	verifyWithStoredKey(t, signer, got.PublicKey)
}

func testReset(t *testing.T, open openStore) {
	dir := t.TempDir()
	s, f := open(t, dir), newFixture()
	a := f.record(t, "a.example")
	mustCreate(t, s, a, f.record(t, "b.example"))
	s.PutSetting("pin", []byte("hash"))
	s.PutLargeBlobs([]byte("blobs"))
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	check := func(s storeUnderTest) {
		t.Helper()
		all, err := s.Credentials(nil)
		pin, _ := s.Setting("pin")
		blobs, _ := s.LargeBlobs()
		if len(all) != 0 || err != nil || pin != nil || blobs != nil {
			t.Errorf("after Reset: %d credentials (%v), pin %q, blobs %q", len(all), err, pin, blobs)
		}
		if _, err := s.Credential(a.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("credential after Reset: %v", err)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	check(s)
	mustCreate(t, s, a)
}

func testClosed(t *testing.T, open openStore) {
	s, f := open(t, t.TempDir()), newFixture()
	r := f.record(t, "a.example")
	mustCreate(t, s, r)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(memoryReopener); ok {
		return // a Memory reopened by the suite outlives Close by design
	}
	for name, err := range map[string]error{
		"Create":      s.Create(f.record(t, "a.example")),
		"Credential":  second(s.Credential(r.ID)),
		"Credentials": second(s.Credentials(nil)),
		"NextCounter": second(s.NextCounter(r.ID)),
		"Update":      s.Update(r.ID, func(*Record) error { return nil }),
		"Delete":      s.Delete(r.ID),
		"Setting":     second(s.Setting("x")),
		"PutSetting":  s.PutSetting("x", nil),
		"Reset":       s.Reset(),
		"Close":       s.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// memoryReopener lets the suite "reopen" a Memory: Close keeps it, and
// opening the same directory again gives it back.
type memoryReopener struct{ *Memory }

func (memoryReopener) Close() error { return nil }
