package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/userverify"
)

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it)\n--- got\n%s--- want\n%s", path, t.Name(), got, want)
	}
}

// Times in the three layouts the CLI prints, masked with same-width text so
// that table columns stay aligned.
var timeMasks = []struct {
	re   *regexp.Regexp
	mask string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`), "YYYY-MM-DDThh:mm:ssZ"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`), "YYYY-MM-DD hh:mm:ss UTC"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d`), "YYYY-MM-DD hh:mm"},
}

// masker replaces what is random in a run (credential IDs, public keys,
// temporary paths, times) with placeholders.
type masker struct{ r *strings.Replacer }

// newMasker learns the random values from passkeys (as listed, in order)
// and the test daemon's directories.
func newMasker(td *testDaemon, passkeys []passkey) *masker {
	var full, short []string
	for i, p := range passkeys {
		n := string(rune('1' + i))
		full = append(full, p.CredentialID, "<cred-"+n+" full ID>", p.PublicKey, "<public key "+n+">")
		short = append(short, shortID(p.CredentialID), "<cred-"+n+">")
	}
	base := filepath.Dir(td.state)
	paths := []string{td.state, "<state-dir>", td.runtime, "<runtime-dir>", base, "<tmp>"}
	return &masker{strings.NewReplacer(append(append(full, short...), paths...)...)}
}

func (m *masker) mask(s string) string {
	s = m.r.Replace(s)
	for _, tm := range timeMasks {
		s = tm.re.ReplaceAllString(s, tm.mask)
	}
	return s
}

// listJSON runs passkeys list --json and decodes it.
func listJSON(t *testing.T, td *testDaemon, args ...string) []passkey {
	t.Helper()
	var ps []passkey
	out := mustRun(t, td, append([]string{"passkeys", "list", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("passkeys list --json: %v\n%s", err, out)
	}
	return ps
}

// checkTimes checks created and last used against the test's clock, since
// the goldens mask them.
func checkTimes(t *testing.T, ps []passkey, start time.Time, used map[string]bool) {
	t.Helper()
	lo, hi := start.Add(-time.Second).Truncate(time.Second), time.Now().Add(time.Second)
	for _, p := range ps {
		if p.Created == nil || p.Created.Before(lo) || p.Created.After(hi) {
			t.Errorf("%s: created %v, want within the test run", p.UserName, p.Created)
		}
		if used[p.UserName] != (p.LastUsed != nil) {
			t.Errorf("%s: last used %v, want used=%v", p.UserName, p.LastUsed, used[p.UserName])
		}
		if p.LastUsed != nil && (p.LastUsed.Before(lo) || p.LastUsed.After(hi)) {
			t.Errorf("%s: last used %v, want within the test run", p.UserName, p.LastUsed)
		}
	}
}

func TestGoldenPasskeys(t *testing.T) {
	start := time.Now()
	td := startDaemon(t)
	td.register(t, "example.com", "alice@example.com", "Alice")
	bob := td.register(t, "example.com", "bob@example.com", "Bob")
	td.register(t, "login.example.org", "carol", "")
	if err := td.signIn(t, "example.com", bob); err != nil {
		t.Fatal(err)
	}
	ps := listJSON(t, td)
	if len(ps) != 3 {
		t.Fatalf("listed %d passkeys, want 3", len(ps))
	}
	checkTimes(t, ps, start, map[string]bool{"bob@example.com": true})
	m := newMasker(td, ps)
	bobPrefix := b64(bob)[:6]
	for _, c := range []struct {
		file string
		args []string
	}{
		{"passkeys_list.txt", []string{"passkeys", "list"}},
		{"passkeys_list.json", []string{"passkeys", "list", "--json"}},
		{"passkeys_list_rp.txt", []string{"passkeys", "list", "--rp", "example.com"}},
		{"passkeys_show.txt", []string{"passkeys", "show", "--", bobPrefix}},
		{"passkeys_show.json", []string{"passkeys", "show", "--json", "--", bobPrefix}},
		{"status.txt", []string{"status"}},
		{"status.json", []string{"status", "--json"}},
	} {
		t.Run(c.file, func(t *testing.T) { golden(t, c.file, m.mask(mustRun(t, td, c.args...))) })
	}
}

func TestPasskeysListEmpty(t *testing.T) {
	td := startDaemon(t)
	if got := mustRun(t, td, "passkeys", "list"); got != "No passkeys.\n" {
		t.Errorf("table: %q", got)
	}
	if got := mustRun(t, td, "passkeys", "list", "--json"); got != "[]\n" {
		t.Errorf("JSON: %q", got)
	}
}

// TestPasskeysListAsksOnce checks that one command is one user verification.
func TestPasskeysListAsksOnce(t *testing.T) {
	td := startDaemon(t)
	td.register(t, "example.com", "alice", "Alice")
	td.register(t, "example.org", "bob", "Bob")
	before := len(td.uvAsks(t))
	mustRun(t, td, "passkeys", "list")
	asks := td.uvAsks(t)[before:]
	if len(asks) != 1 || asks[0] != string(userverify.OpCredentialManagement) {
		t.Errorf("passkeys list asked %q, want one %q", asks, userverify.OpCredentialManagement)
	}
}

func TestGoldenPINStatus(t *testing.T) {
	td := startDaemon(t)
	m := newMasker(td, nil)
	golden(t, "pin_status_unset.txt", m.mask(mustRun(t, td, "pin", "status")))
	golden(t, "pin_status_unset.json", m.mask(mustRun(t, td, "pin", "status", "--json")))
	t.Setenv(envNewPIN, "123456")
	mustRun(t, td, "pin", "set")
	golden(t, "pin_status_set.txt", m.mask(mustRun(t, td, "pin", "status")))
	golden(t, "pin_status_set.json", m.mask(mustRun(t, td, "pin", "status", "--json")))
}
