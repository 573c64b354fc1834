package keystore

import (
	"context"
	"errors"
	"github.com/passkeyd/passkeyd/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

func openKeyringSealer(t *testing.T, dir string) sealerUnderTest {
	t.Helper()
	s, err := NewKeyringSealer(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyringSealerSuite(t *testing.T) {
	if !testenv.InDBusSession(t, testenv.SessionUnlockedKeyring) {
		return
	}
	runSealerSuite(t, sealerBackend{open: openKeyringSealer, persistent: true})
}

func TestKeyringSealerKeepsKeyInKeyring(t *testing.T) {
	if !testenv.InDBusSession(t, testenv.SessionUnlockedKeyring) {
		return
	}
	dir := t.TempDir()
	s := openKeyringSealer(t, dir).(*KeyringSealer)
	secret, err := keyring.Get(KeyringService, s.User())
	if err != nil || secret == "" {
		t.Fatalf("no master key in the keyring under %q: %v", s.User(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); err == nil {
		t.Error("the keyring backend wrote a master key file")
	}
	if err := keyring.Delete(KeyringService, s.User()); err != nil {
		t.Fatal(err)
	}
	_, err = NewKeyringSealer(context.Background(), dir)
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("entry deleted from the keyring: %v, want a clear ErrKeyringUnavailable", err)
	}
}

// expectKeyringFailure checks that opening fails quickly with a clear error.
func expectKeyringFailure(t *testing.T) {
	start := time.Now()
	_, err := NewKeyringSealer(context.Background(), t.TempDir())
	elapsed := time.Since(start)
	t.Logf("after %v: %v", elapsed, err)
	if !errors.Is(err, ErrKeyringUnavailable) {
		t.Errorf("got %v, want ErrKeyringUnavailable", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("failing took %v", elapsed)
	}
}

func TestKeyringLocked(t *testing.T) {
	if testenv.InDBusSession(t, testenv.SessionLockedKeyring) {
		expectKeyringFailure(t)
	}
}

func TestKeyringWithoutSecretService(t *testing.T) {
	if testenv.InDBusSession(t, testenv.SessionNoSecretService) {
		expectKeyringFailure(t)
	}
}

func TestKeyringWithoutBus(t *testing.T) {
	if testenv.InDBusSession(t, testenv.SessionNoBus) {
		expectKeyringFailure(t)
	}
}

// hangingKeyring never answers, as a D-Bus peer that accepted a call might.
type hangingKeyring struct{ release chan struct{} }

func (h hangingKeyring) Get(string, string) (string, error) {
	<-h.release
	return "", errors.New("late")
}
func (h hangingKeyring) Set(string, string, string) error { <-h.release; return errors.New("late") }

func TestKeyringCallsAreBounded(t *testing.T) {
	h := hangingKeyring{release: make(chan struct{})}
	defer close(h.release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newKeyringSealer(ctx, t.TempDir(), h)
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("hanging keyring: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v, want about 200ms", d)
	}
}
