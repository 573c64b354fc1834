package keystore

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// The keyring tests run against a real gnome-keyring (REAL-PARTS.md §2): the
// test re-executes itself inside dbus-run-session, with a throwaway HOME and
// XDG_RUNTIME_DIR, after unlocking a fresh login keyring. They are skipped
// only when the programs are not installed
// (apt-get install gnome-keyring dbus libsecret-tools).

const keyringSessionEnv = "PASSKEYD_TEST_DBUS_SESSION"

// A bus that can activate nothing: no service directories.
const busWithoutServices = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// session kinds for inDBusSession.
const (
	sessionUnlockedKeyring = "unlocked-keyring"  // gnome-keyring --unlock in a fresh HOME
	sessionLockedKeyring   = "locked-keyring"    // gnome-keyring started by D-Bus activation, never unlocked
	sessionNoSecretService = "no-secret-service" // a bus where nothing provides the Secret Service
	sessionNoBus           = "no-bus"            // DBUS_SESSION_BUS_ADDRESS names no bus
)

// inDBusSession reports whether the current test runs inside the session
// kind; if not, it runs the test again in a child process inside one and
// reports its result.
func inDBusSession(t *testing.T, kind string) bool {
	t.Helper()
	if os.Getenv(keyringSessionEnv) == kind {
		return true
	}
	dir := t.TempDir()
	home, run := filepath.Join(dir, "home"), filepath.Join(dir, "run")
	os.Mkdir(home, 0o700)
	os.Mkdir(run, 0o700)
	self := []string{os.Args[0], "-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1"}
	var cmd *exec.Cmd
	switch kind {
	case sessionUnlockedKeyring:
		needPrograms(t, "dbus-run-session", "gnome-keyring-daemon")
		script := `echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"`
		cmd = exec.Command("dbus-run-session", append([]string{"--", "sh", "-c", script, "sh"}, self...)...)
	case sessionLockedKeyring:
		needPrograms(t, "dbus-run-session", "gnome-keyring-daemon")
		cmd = exec.Command("dbus-run-session", append([]string{"--"}, self...)...)
	case sessionNoSecretService:
		needPrograms(t, "dbus-run-session")
		conf := filepath.Join(dir, "bus.conf")
		os.WriteFile(conf, []byte(busWithoutServices), 0o600)
		cmd = exec.Command("dbus-run-session", append([]string{"--config-file=" + conf, "--"}, self...)...)
	case sessionNoBus:
		cmd = exec.Command(self[0], self[1:]...)
	}
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+run, keyringSessionEnv+"="+kind,
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"))
	out, err := cmd.CombinedOutput()
	t.Logf("in a %s session:\n%s", kind, out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the test failed inside the session (%v)", err)
	}
	return false
}

func needPrograms(t *testing.T, names ...string) {
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s is not installed (apt-get install gnome-keyring dbus libsecret-tools): %v", name, err)
		}
	}
}

func openKeyringSealer(t *testing.T, dir string) sealerUnderTest {
	t.Helper()
	s, err := NewKeyringSealer(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyringSealerSuite(t *testing.T) {
	if !inDBusSession(t, sessionUnlockedKeyring) {
		return
	}
	runSealerSuite(t, sealerBackend{open: openKeyringSealer, persistent: true})
}

func TestKeyringSealerKeepsKeyInKeyring(t *testing.T) {
	if !inDBusSession(t, sessionUnlockedKeyring) {
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
	if inDBusSession(t, sessionLockedKeyring) {
		expectKeyringFailure(t)
	}
}

func TestKeyringWithoutSecretService(t *testing.T) {
	if inDBusSession(t, sessionNoSecretService) {
		expectKeyringFailure(t)
	}
}

func TestKeyringWithoutBus(t *testing.T) {
	if inDBusSession(t, sessionNoBus) {
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
