package keystore

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// storedCred is a credential that a test store must hold.
type storedCred struct {
	id      []byte
	rpID    string
	counter uint32 // last counter handed out
}

// writeSchema1Fixture puts testdata/schema1.db.gz, a store written by the
// schema 1 code (passkeyd at 6665541), in dir and returns what it holds
// (testdata/schema1.txt). Besides credentials of several RPs, some with
// 48-byte IDs, it has deleted credentials (gaps in the sequence), three
// that moved to another RP by Update, counters, and a setting.
func writeSchema1Fixture(t *testing.T, dir string) []storedCred {
	t.Helper()
	gz, err := os.ReadFile(filepath.Join("testdata", "schema1.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DBFile), raw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return readSchema1Manifest(t)
}

func readSchema1Manifest(t *testing.T) []storedCred {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "schema1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []storedCred
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Fatalf("schema1.txt: bad line %q", sc.Text())
		}
		id, err1 := hex.DecodeString(fields[0])
		c, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("schema1.txt: %q: %v", sc.Text(), err)
		}
		out = append(out, storedCred{id, fields[1], uint32(c)})
	}
	return out
}

// schemaOf reads the schema version of a closed store.
func schemaOf(t *testing.T, dir string) uint64 {
	t.Helper()
	bdb, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var v uint64
	err = bdb.View(func(tx *bolt.Tx) (err error) {
		v, err = readSchemaVersion(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkHolds checks that db finds every credential of want by ID and by RP,
// and no other.
func checkHolds(t *testing.T, db *DB, want []storedCred) {
	t.Helper()
	byRP := map[string]map[string]bool{}
	for _, c := range want {
		r, err := db.Credential(c.id)
		if err != nil {
			t.Fatalf("credential %x: %v", c.id, err)
		}
		if r.RPID != c.rpID {
			t.Errorf("credential %x: RP %q, want %q", c.id, r.RPID, c.rpID)
		}
		if byRP[c.rpID] == nil {
			byRP[c.rpID] = map[string]bool{}
		}
		byRP[c.rpID][string(c.id)] = true
	}
	for rp, ids := range byRP {
		rs, err := db.Credentials(rpHash(rp))
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != len(ids) {
			t.Errorf("RP %s: %d credentials, want %d", rp, len(rs), len(ids))
		}
		for _, r := range rs {
			if !ids[string(r.ID)] {
				t.Errorf("RP %s: credential %x is not the RP's", rp, r.ID)
			}
		}
	}
	if n, nRP, _ := db.Count(); n != len(want) || nRP != len(byRP) {
		t.Errorf("Count: %d credentials of %d RPs, want %d of %d", n, nRP, len(want), len(byRP))
	}
	checkIDsBucket(t, db)
}

// checkIDsBucket checks the file's layout: the current schema, no schema 1
// index, and one ids entry per record, naming the record's ID and RP.
func checkIDsBucket(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v, err := readSchemaVersion(tx); v != schemaVersion || err != nil {
			t.Errorf("schema %d, %v; want %d", v, err, schemaVersion)
		}
		if tx.Bucket(bucketIndexV1) != nil {
			t.Error("the schema 1 index is still there")
		}
		creds, ids := tx.Bucket(bucketCreds), tx.Bucket(bucketIDs)
		if nc, ni := creds.Stats().KeyN, ids.Stats().KeyN; nc != ni {
			t.Errorf("%d records, %d ids entries", nc, ni)
		}
		return ids.ForEach(func(k, v []byte) error {
			r, err := decodeRecord(creds.Get(k))
			if err != nil {
				return err
			}
			h := r.RPIDHash()
			if !bytes.Equal(v, indexValue(&h, r.ID)) {
				t.Errorf("ids entry %x: %x, the record says %x", k, v, indexValue(&h, r.ID))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationFromSchema1(t *testing.T) {
	dir := t.TempDir()
	want := writeSchema1Fixture(t, dir)
	if v := schemaOf(t, dir); v != 1 {
		t.Fatalf("the fixture has schema %d, want 1", v)
	}
	db := openTestDB(t, dir)
	checkHolds(t, db, want)
	if v, _ := db.Setting("enabled"); !bytes.Equal(v, []byte{1}) {
		t.Errorf("setting after migration: %x", v)
	}
	for _, c := range want {
		if n := mustNextCounter(t, db, c.id); n <= c.counter {
			t.Errorf("credential %x: counter %d after migration, %d handed out before", c.id, n, c.counter)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A migrated file is current: opening it writes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, DBFile))
	db = openTestDB(t, dir)
	checkHolds(t, db, want)
	db.Close()
	if after, _ := os.ReadFile(filepath.Join(dir, DBFile)); !bytes.Equal(before, after) {
		t.Error("opening and closing a migrated store changed the file")
	}
	checkChangesAfterMigration(t, dir, want)
}

// checkChangesAfterMigration creates, moves and deletes credentials in a
// migrated store and checks them across a reopen.
func checkChangesAfterMigration(t *testing.T, dir string, want []storedCred) {
	t.Helper()
	db, f := openTestDB(t, dir), newFixture()
	r := f.record(t, want[0].rpID)
	mustCreate(t, db, r)
	dup := f.record(t, "other.example")
	dup.ID = want[1].id
	if err := db.Create(dup); !errors.Is(err, ErrExists) {
		t.Errorf("Create of a migrated ID under another RP: %v, want ErrExists", err)
	}
	moved := want[2]
	if err := db.Update(moved.id, func(r *Record) error { r.RPID = "moved-again.example"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(want[3].id); err != nil {
		t.Fatal(err)
	}
	next := append([]storedCred{{r.ID, r.RPID, 0}, want[0], want[1], {moved.id, "moved-again.example", 0}}, want[4:]...)
	checkHolds(t, db, next)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkHolds(t, openTestDB(t, dir), next)
}

// TestMigrationFromSchema1Large migrates a store of a few thousand
// credentials, whose schema 1 index lies in another order than the
// records (by RP, not by sequence number), written by the migration to
// schema 1.
func TestMigrationFromSchema1Large(t *testing.T) {
	dir := t.TempDir()
	recs := fakeRecords(3000, new([][32]byte))
	writeV0(t, dir, recs...)
	bdb, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := migrations[0](tx); err != nil {
			return err
		}
		return writeSchemaVersion(tx, 1)
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]storedCred, len(recs))
	for i, r := range recs {
		want[i] = storedCred{r.ID, r.RPID, r.Counter}
	}
	db := openTestDB(t, dir)
	checkHolds(t, db, want)
	db.Close()
	checkChangesAfterMigration(t, dir, want)
}

func TestMigrationFromSchema1DamagedIndex(t *testing.T) {
	dir := t.TempDir()
	writeSchema1Fixture(t, dir)
	bdb, _ := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketIndexV1).Put([]byte("short"), seqKey(1)) })
	bdb.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "migrate schema 1 to 2") {
		t.Fatalf("Open with a damaged schema 1 index: %v", err)
	}
	if v := schemaOf(t, dir); v != 1 {
		t.Errorf("schema %d after a failed migration, want 1", v)
	}
	bdb, _ = bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	defer bdb.Close()
	bdb.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketIDs) != nil || tx.Bucket(bucketIndexV1) == nil {
			t.Error("a failed migration left part of its work behind")
		}
		return nil
	})
}
