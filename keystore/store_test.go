package keystore

import (
	"testing"
)

func openTestDB(t testing.TB, dir string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestDBSuite(t *testing.T) {
	runStoreSuite(t, func(t *testing.T, dir string) storeUnderTest { return openTestDB(t, dir) })
}

func TestMemorySuite(t *testing.T) {
	mems := map[string]*Memory{}
	runStoreSuite(t, func(t *testing.T, dir string) storeUnderTest {
		if mems[dir] == nil {
			mems[dir] = NewMemory()
		}
		return memoryReopener{mems[dir]}
	})
}

func TestMemoryClosed(t *testing.T) {
	testClosed(t, func(*testing.T, string) storeUnderTest { return NewMemory() })
}

func TestFileSealerSuite(t *testing.T) {
	runSealerSuite(t, sealerBackend{persistent: true, open: func(t *testing.T, dir string) sealerUnderTest {
		s, err := NewFileSealer(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
}

func TestPassphraseSealerSuite(t *testing.T) {
	cheapKDF(t)
	runSealerSuite(t, sealerBackend{persistent: true, open: func(t *testing.T, dir string) sealerUnderTest {
		s, err := NewPassphraseSealer(dir, []byte("correct horse"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
}

func TestMemorySealerSuite(t *testing.T) {
	runSealerSuite(t, sealerBackend{open: func(*testing.T, string) sealerUnderTest { return NewMemorySealer() }})
}

// cheapKDF lowers the argon2id cost of new passphrases for one test.
func cheapKDF(t *testing.T) {
	saved := defaultKDF
	defaultKDF.Time, defaultKDF.MemoryKiB, defaultKDF.Threads = 1, 8<<10, 1
	t.Cleanup(func() { defaultKDF = saved })
}
