package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Keyring tests run against a real gnome-keyring (REAL-PARTS.md §2): the
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

// Session kinds for InDBusSession.
const (
	SessionUnlockedKeyring = "unlocked-keyring"  // gnome-keyring --unlock in a fresh HOME
	SessionLockedKeyring   = "locked-keyring"    // gnome-keyring started by D-Bus activation, never unlocked
	SessionNoSecretService = "no-secret-service" // a bus where nothing provides the Secret Service
	SessionNoBus           = "no-bus"            // DBUS_SESSION_BUS_ADDRESS names no bus
)

// InDBusSession reports whether the current test runs inside the session
// kind; if not, it runs the test again in a child process inside one and
// reports its result.
func InDBusSession(t *testing.T, kind string) bool {
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
	case SessionUnlockedKeyring:
		needPrograms(t, "dbus-run-session", "gnome-keyring-daemon")
		script := `echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"`
		cmd = exec.Command("dbus-run-session", append([]string{"--", "sh", "-c", script, "sh"}, self...)...)
	case SessionLockedKeyring:
		needPrograms(t, "dbus-run-session", "gnome-keyring-daemon")
		cmd = exec.Command("dbus-run-session", append([]string{"--"}, self...)...)
	case SessionNoSecretService:
		needPrograms(t, "dbus-run-session")
		conf := filepath.Join(dir, "bus.conf")
		os.WriteFile(conf, []byte(busWithoutServices), 0o600)
		cmd = exec.Command("dbus-run-session", append([]string{"--config-file=" + conf, "--"}, self...)...)
	case SessionNoBus:
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
