package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/ctap"
)

// threePasskeys registers alice and bob at example.com and carol at
// example.org, and returns their credential IDs.
func threePasskeys(t *testing.T, td *testDaemon) (alice, bob, carol []byte) {
	t.Helper()
	return td.register(t, "example.com", "alice", "Alice"),
		td.register(t, "example.com", "bob", "Bob"),
		td.register(t, "example.org", "carol", "Carol")
}

// checkSignIn checks which credentials still sign in.
func checkSignIn(t *testing.T, td *testDaemon, rpID string, id []byte, wantOK bool) {
	t.Helper()
	err := td.signIn(t, rpID, id)
	switch {
	case wantOK && err != nil:
		t.Errorf("sign-in with %s at %s: %v, want success", b64(id), rpID, err)
	case !wantOK && !errors.Is(err, ctap.ErrNoCredentials):
		t.Errorf("sign-in with deleted %s at %s: %v, want %v", b64(id), rpID, err, ctap.ErrNoCredentials)
	}
}

func TestPasskeysDelete(t *testing.T) {
	td := startDaemon(t)
	alice, bob, carol := threePasskeys(t, td)
	before := len(td.uvAsks(t))
	r := runCLI(t, td, "", "passkeys", "delete", "--yes", "--", b64(bob)[:10])
	if r.code != 0 {
		t.Fatalf("delete: exit %d, %q", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "Deleted "+shortID(b64(bob))+" (example.com, bob).") {
		t.Errorf("stdout %q", r.stdout)
	}
	if asks := td.uvAsks(t)[before:]; len(asks) != 1 {
		t.Errorf("delete asked the user %d times (%q), want once", len(asks), asks)
	}
	checkSignIn(t, td, "example.com", bob, false)
	checkSignIn(t, td, "example.com", alice, true)
	checkSignIn(t, td, "example.org", carol, true)
	if ps := listJSON(t, td); len(ps) != 2 {
		t.Errorf("%d passkeys left, want 2", len(ps))
	}
}

func TestPasskeysDeleteSeveral(t *testing.T) {
	td := startDaemon(t)
	alice, bob, carol := threePasskeys(t, td)
	mustRun(t, td, "passkeys", "delete", "-y", "--", b64(alice), b64(carol)[:12], b64(alice)[:9])
	checkSignIn(t, td, "example.com", alice, false)
	checkSignIn(t, td, "example.org", carol, false)
	checkSignIn(t, td, "example.com", bob, true)
}

// TestPasskeysDeleteDeniedUV: a denied user verification deletes nothing.
func TestPasskeysDeleteDeniedUV(t *testing.T) {
	td := startDaemon(t)
	alice, bob, carol := threePasskeys(t, td)
	td.setUV(t, false)
	r := runCLI(t, td, "", "passkeys", "delete", "--yes", "--", b64(alice), b64(bob), b64(carol))
	oneLine(t, r, exitFailed, "user verification was denied; nothing was changed")
	td.setUV(t, true)
	if ps := listJSON(t, td); len(ps) != 3 {
		t.Errorf("%d passkeys left after a denied delete, want 3", len(ps))
	}
	checkSignIn(t, td, "example.com", alice, true)
}

// TestPasskeysDeleteResolvesFirst: one bad ID among several deletes nothing.
func TestPasskeysDeleteResolvesFirst(t *testing.T) {
	td := startDaemon(t)
	alice, _, _ := threePasskeys(t, td)
	r := runCLI(t, td, "", "passkeys", "delete", "--yes", "--", b64(alice), "!!!!")
	oneLine(t, r, exitFailed, `no passkey has a credential ID beginning with "!!!!"`)
	if ps := listJSON(t, td); len(ps) != 3 {
		t.Errorf("%d passkeys left, want 3", len(ps))
	}
}

func TestPasskeysDeleteConfirmation(t *testing.T) {
	td := startDaemon(t)
	alice, _, _ := threePasskeys(t, td)
	before := len(td.uvAsks(t))

	r := runCLI(t, td, "", "passkeys", "delete", "--", b64(alice))
	oneLine(t, r, exitUsage, "pass --yes")
	if asks := td.uvAsks(t)[before:]; len(asks) != 0 {
		t.Errorf("the user was asked %q although nothing could be deleted", asks)
	}

	fakeTerminal(t)
	r = runCLI(t, td, "n\n", "passkeys", "delete", "--", b64(alice))
	oneLine(t, r, exitFailed, "not confirmed; nothing was changed")
	if !strings.Contains(r.stderr, "Delete 1 passkey for good?") || !strings.Contains(r.stderr, shortID(b64(alice))+"  example.com  alice") {
		t.Errorf("the question does not name the passkey: %q", r.stderr)
	}
	checkSignIn(t, td, "example.com", alice, true)

	r = runCLI(t, td, "y\n", "passkeys", "delete", "--", b64(alice))
	if r.code != 0 {
		t.Fatalf("confirmed delete: exit %d, %q", r.code, r.stderr)
	}
	checkSignIn(t, td, "example.com", alice, false)
}

func TestPasskeysRename(t *testing.T) {
	td := startDaemon(t)
	alice, _, _ := threePasskeys(t, td)
	mustRun(t, td, "passkeys", "rename", "--display-name", "Alice (work)", "--", b64(alice)[:8])
	p := showJSON(t, td, b64(alice))
	if p.UserName != "alice" || p.UserDisplayName != "Alice (work)" {
		t.Errorf("after renaming the display name: %q %q", p.UserName, p.UserDisplayName)
	}
	mustRun(t, td, "passkeys", "rename", "--name", "alice@work", "--", b64(alice))
	p = showJSON(t, td, b64(alice))
	if p.UserName != "alice@work" || p.UserDisplayName != "Alice (work)" || p.UserID != b64([]byte("handle-alice")) {
		t.Errorf("after renaming the user name: %+v", p)
	}
	r := runCLI(t, td, "", "passkeys", "rename", "--", b64(alice))
	oneLine(t, r, exitUsage, "give --name, --display-name or both")
}

func showJSON(t *testing.T, td *testDaemon, id string) passkey {
	t.Helper()
	ps := listJSON(t, td)
	p, err := resolve(ps, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPasskeysShowUnknownAndAmbiguous(t *testing.T) {
	td := startDaemon(t)
	threePasskeys(t, td)
	r := runCLI(t, td, "", "passkeys", "show", "!!")
	oneLine(t, r, exitFailed, `no passkey has a credential ID beginning with "!!"`)
	// Every ID begins with one of 64 characters; 65 IDs must share one.
	for i := range 62 {
		td.register(t, "example.net", "user"+string(rune('A'+i%26))+string(rune('a'+i/26)), "")
	}
	counts := map[byte]int{}
	for _, p := range listJSON(t, td) {
		counts[p.CredentialID[0]]++
	}
	for c, n := range counts {
		if n > 1 {
			r = runCLI(t, td, "", "passkeys", "show", string(c))
			oneLine(t, r, exitFailed, "is ambiguous")
			return
		}
	}
	t.Fatal("no shared first character among 65 IDs")
}

func TestResolve(t *testing.T) {
	all := []passkey{{CredentialID: "abcdef"}, {CredentialID: "abcxyz"}, {CredentialID: "abc"}, {CredentialID: "q-_9"}}
	for _, c := range []struct {
		prefix, want, err string
	}{
		{"abcd", "abcdef", ""},
		{"abcx", "abcxyz", ""},
		{"abc", "abc", ""}, // an exact ID wins over the IDs it begins
		{"ab", "", "ambiguous: 3 passkeys"},
		{"q-", "q-_9", ""},
		{"q-_9==", "q-_9", ""}, // padding is ignored
		{"zz", "", `no passkey has a credential ID beginning with "zz"`},
		{"", "", "an empty credential ID"},
	} {
		p, err := resolve(all, c.prefix)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("resolve(%q): %v, want an error with %q", c.prefix, err, c.err)
		case c.err == "" && (err != nil || p.CredentialID != c.want):
			t.Errorf("resolve(%q) = %q, %v; want %q", c.prefix, p.CredentialID, err, c.want)
		}
	}
}

// TestPasskeysWithPIN: --pin takes the PIN from PASSKEYD_PIN and does not
// ask the built-in user verification.
func TestPasskeysWithPIN(t *testing.T) {
	td := startDaemon(t)
	threePasskeys(t, td)
	r := runCLI(t, td, "", "passkeys", "list", "--pin")
	oneLine(t, r, exitFailed, "no PIN is set; set one with: passkeyd pin set")
	t.Setenv(envNewPIN, "246810")
	mustRun(t, td, "pin", "set")
	t.Setenv(envPIN, "246810")
	before := len(td.uvAsks(t))
	if out := mustRun(t, td, "passkeys", "list", "--pin"); strings.Count(out, "\n") != 4 {
		t.Errorf("list --pin:\n%s", out)
	}
	if asks := td.uvAsks(t)[before:]; len(asks) != 0 {
		t.Errorf("--pin asked the UV hook: %q", asks)
	}
	t.Setenv(envPIN, "999999")
	r = runCLI(t, td, "", "passkeys", "list", "--pin")
	oneLine(t, r, exitFailed, "wrong PIN (7 attempts left)")
	t.Setenv(envPIN, "")
	r = runCLI(t, td, "", "passkeys", "list", "--pin")
	oneLine(t, r, exitUsage, "set PASSKEYD_PIN, or run on a terminal to be asked")
}
