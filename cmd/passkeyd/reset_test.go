package main

import (
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/userverify"
)

func TestReset(t *testing.T) {
	td := startDaemon(t)
	alice, _, _ := threePasskeys(t, td)
	t.Setenv(envNewPIN, "1234")
	mustRun(t, td, "pin", "set")
	before := len(td.uvAsks(t))

	r := runCLI(t, td, "", "reset")
	oneLine(t, r, exitUsage, "stdin is not a terminal: pass --yes to confirm")

	td.setUV(t, false)
	r = runCLI(t, td, "", "reset", "--yes")
	oneLine(t, r, exitFailed, "user verification was denied; nothing was changed")
	td.setUV(t, true)
	if ps := listJSON(t, td); len(ps) != 3 {
		t.Errorf("%d passkeys after a denied reset, want 3", len(ps))
	}

	fakeTerminal(t)
	r = runCLI(t, td, "no\n", "reset")
	oneLine(t, r, exitFailed, "not confirmed; nothing was changed")
	if !strings.Contains(r.stderr, "This deletes every passkey") {
		t.Errorf("the question is missing: %q", r.stderr)
	}
	checkSignIn(t, td, "example.com", alice, true)

	asks := td.uvAsks(t)[before:]
	if len(asks) != 3 || asks[0] != string(userverify.OpReset) {
		t.Errorf("asks before the reset: %q, want one reset and two for checking", asks)
	}
	r = runCLI(t, td, "y\n", "reset")
	if r.code != 0 || r.stdout != "The authenticator was reset: no passkeys, no PIN.\n" {
		t.Fatalf("reset: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	checkSignIn(t, td, "example.com", alice, false)
	if st := pinStatusJSON(t, td); st.Set {
		t.Error("the PIN survived the reset")
	}
}
