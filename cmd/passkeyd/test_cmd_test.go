package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/testrp"
	"github.com/passkeyd/passkeyd/provider"
)

// withTestControls starts the daemon with --test-controls.
func withTestControls(c *daemon.Config) { c.TestControls = true }

// cliClient answers WebAuthn options with passkeyd webauthn KIND, as a
// shell script does.
func cliClient(t *testing.T, td *testDaemon, kind, origin string) testrp.Client {
	return func(opts []byte) ([]byte, error) {
		r := runCLI(t, td, string(opts), "webauthn", kind, "--origin", origin)
		if r.code != 0 {
			return nil, errors.New(strings.TrimSpace(r.report))
		}
		return []byte(r.stdout), nil
	}
}

// TestTestFaultThenWebAuthnGet: passkeyd test fault makes the next sign-in
// fail as injected, the fault is consumed, and the sign-in after it is clean.
func TestTestFaultThenWebAuthnGet(t *testing.T) {
	td := startDaemon(t, withTestControls)
	rp := testrp.New(t, "example.com", "https://example.com")
	u := testrp.NewUser("alice")
	if _, err := rp.Register(u, cliClient(t, td, "create", rp.Origin)); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, td, "test", "fault", "status", "--op", "get", "--status", "OPERATION_DENIED")
	if out != "Fault 1 queued: status CTAP2_ERR_OPERATION_DENIED for the next 1 get operation(s).\n" {
		t.Errorf("test fault printed %q", out)
	}
	golden(t, "test_faults.txt", mustRun(t, td, "test", "faults"))
	asks := len(td.uvAsks(t))

	_, err := rp.Login(u, cliClient(t, td, "get", rp.Origin))
	want := "passkeyd: not_allowed (NotAllowedError): the user did not allow it (ctap: CTAP2_ERR_OPERATION_DENIED: injected fault)"
	if err == nil || err.Error() != want {
		t.Fatalf("faulty sign-in: %v\nwant %s", err, want)
	}
	if got := len(td.uvAsks(t)) - asks; got != 0 {
		t.Errorf("the faulty sign-in asked the user %d times", got)
	}
	if out := mustRun(t, td, "test", "faults"); out != "No faults queued.\n" {
		t.Errorf("after the faulty sign-in: %q", out)
	}
	c, err := rp.Login(u, cliClient(t, td, "get", rp.Origin))
	if err != nil || c.Authenticator.SignCount != 1 {
		t.Fatalf("the sign-in after the fault: %v", err)
	}
}

func TestTestFaultKinds(t *testing.T) {
	td := startDaemon(t, withTestControls)
	mustRun(t, td, "test", "fault", "delay", "--op", "any", "--count", "3", "--delay", "2s")
	mustRun(t, td, "test", "fault", "credman-error", "--op", "create", "--code", "timeout")
	mustRun(t, td, "test", "fault", "bogus-signature", "--op", "get")
	golden(t, "test_faults_kinds.txt", mustRun(t, td, "test", "faults"))
	var faults []testFault
	if err := json.Unmarshal([]byte(mustRun(t, td, "test", "faults", "--json")), &faults); err != nil || len(faults) != 3 {
		t.Fatalf("faults --json: %v %+v", err, faults)
	}
	if faults[0] != (testFault{ID: 1, Kind: "delay", Op: "any", Count: 3, Delay: "2s"}) {
		t.Errorf("first fault %+v", faults[0])
	}
	if out := mustRun(t, td, "test", "faults", "clear"); out != "No faults queued.\n" {
		t.Errorf("faults clear: %q", out)
	}
	if out := mustRun(t, td, "test", "faults", "--json"); out != "[]\n" {
		t.Errorf("faults --json after clear: %q", out)
	}
}

func TestTestUV(t *testing.T) {
	td := startDaemon(t, withTestControls)
	rp := testrp.New(t, "example.com", "https://example.com")
	u := testrp.NewUser("bob")
	if _, err := rp.Register(u, cliClient(t, td, "create", rp.Origin)); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, td, "test", "uv", "denied", "--count", "1"); out != "The next 1 verification(s) will be denied.\n" {
		t.Errorf("uv denied: %q", out)
	}
	if _, err := rp.Login(u, cliClient(t, td, "get", rp.Origin)); err == nil || !strings.Contains(err.Error(), "not_allowed") {
		t.Fatalf("scripted denial: %v", err)
	}
	td.setUV(t, false) // the hook denies from now on; the scripted answer wins
	mustRun(t, td, "test", "uv", "verified")
	asks := len(td.uvAsks(t))
	if _, err := rp.Login(u, cliClient(t, td, "get", rp.Origin)); err != nil {
		t.Fatalf("scripted approval: %v", err)
	}
	if len(td.uvAsks(t)) != asks {
		t.Error("a scripted verification asked the hook")
	}
	mustRun(t, td, "test", "uv", "clear")
	if _, err := rp.Login(u, cliClient(t, td, "get", rp.Origin)); err == nil {
		t.Fatal("after uv clear the hook's denial did not count")
	}
}

func writeKey(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, der
}

func TestTestCredentials(t *testing.T) {
	td := startDaemon(t, withTestControls, func(c *daemon.Config) { c.AllowExport = true })
	keyFile, der := writeKey(t, t.TempDir())
	id1, id2 := b64([]byte("credential-one-0001")), b64([]byte("credential-two-0002"))
	var added testCredential
	out := mustRun(t, td, "test", "add-credential", "--rp", "example.com", "--key", keyFile, "--id", id1,
		"--user-handle", b64([]byte("user-alice")), "--user-name", "alice", "--sign-count", "41", "--be", "--json")
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatal(err)
	}
	if added.CredentialID != id1 || added.SignCount != 41 || !added.BackupEligibility || added.PublicKey == "" || added.PrivateKey != "" {
		t.Errorf("add-credential --json: %+v", added)
	}
	out = mustRun(t, td, "test", "add-credential", "--rp", "example.org", "--generate", "--id", id2, "--resident=false")
	if !strings.HasPrefix(out, "Added credential "+id2+" at example.org (user -, handle -, counter 0, BE false, BS false).\nPublic key (SPKI, base64url): MFkw") {
		t.Errorf("add-credential: %q", out)
	}
	golden(t, "test_credentials.txt", mustRun(t, td, "test", "credentials"))

	var withKeys []testCredential
	if err := json.Unmarshal([]byte(mustRun(t, td, "test", "credentials", "--keys")), &withKeys); err != nil {
		t.Fatal(err)
	}
	for _, c := range withKeys {
		if c.CredentialID == id1 && c.PrivateKey != b64(der) {
			t.Error("--keys did not give the key back")
		}
	}

	if out := mustRun(t, td, "test", "props", id1[:18], "--bs"); out != "Credential "+id1+": counter 41, BE true, BS true.\n" {
		t.Errorf("props: %q", out)
	}
	oneLine(t, runCLI(t, td, "", "test", "props", id1, "--sign-count", "3"), exitFailed, "counters never go back")
	oneLine(t, runCLI(t, td, "", "test", "props", id1), exitUsage, "at least one of")
	oneLine(t, runCLI(t, td, "", "test", "props", "Y3JlZGVudGlhbC", "--bs=false"), exitFailed, "ambiguous")
	oneLine(t, runCLI(t, td, "", "test", "remove", "nope"), exitFailed, `no credential has a credential ID beginning with "nope"`)
	if out := mustRun(t, td, "test", "remove", id2); out != "Removed credential "+id2+" (example.org, -).\n" {
		t.Errorf("remove: %q", out)
	}
	mustRun(t, td, "test", "remove", "--all")
	if out := mustRun(t, td, "test", "credentials"); out != "No credentials.\n" {
		t.Errorf("after remove --all: %q", out)
	}
	if out := mustRun(t, td, "test", "credentials", "--json"); out != "[]\n" {
		t.Errorf("--json after remove --all: %q", out)
	}
}

func TestTestWatch(t *testing.T) {
	td := startDaemon(t, withTestControls)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- watchEvents(context.Background(), newAPIClient(&dirs{runtime: td.runtime}), pw, 2)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"type":"subscribed"`) {
		t.Fatalf("first line %q", lines.Text())
	}
	mustRun(t, td, "test", "fault", "up-cleared", "--op", "get")
	keyFile, _ := writeKey(t, t.TempDir())
	mustRun(t, td, "test", "add-credential", "--rp", "example.com", "--key", keyFile, "--user-name", "carol")
	mustRun(t, td, "test", "remove", "--all") // a third event, after --count 2
	var types []string
	for lines.Scan() {
		var e struct{ Type, UserName string }
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			t.Fatalf("%v: %q", err, lines.Text())
		}
		types = append(types, e.Type+":"+e.UserName)
	}
	if got := strings.Join(types, " "); got != "credential-added:carol credential-deleted:carol" {
		t.Errorf("watched %s", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("watch --count 2: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch --count 2 did not stop")
	}

	// Interrupted: exit 0.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- watchEvents(ctx, newAPIClient(&dirs{runtime: td.runtime}), io.Discard, 0) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("interrupted watch: %v", err)
	}
}

func TestTestControlsRefused(t *testing.T) {
	td := startDaemon(t) // no --test-controls
	oneLine(t, runCLI(t, td, "", "test", "faults"), exitFailed, "start the daemon with 'passkeyd serve --test-controls'")
	oneLine(t, runCLI(t, td, "", "test", "watch"), exitFailed, "test_controls_off")

	tc := startDaemon(t, withTestControls) // AllowExport off
	oneLine(t, runCLI(t, tc, "", "test", "credentials", "--keys"), exitFailed, "export_refused")

	nowhere := &testDaemon{runtime: filepath.Join(shortTempDir(t), "run"), state: shortTempDir(t)}
	for _, args := range [][]string{{"test", "faults"}, {"test", "watch"}, {"test", "uv", "clear"}} {
		oneLine(t, runCLI(t, nowhere, "", args...), exitFailed, "passkeyd is not running")
	}
}

func TestTestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"test", "fault", "status", "--status", "OPERATION_DENIED"}, "--op is required"},
		{[]string{"test", "fault", "bogus-signature", "--op", "get", "--count", "0"}, "--count 0"},
		{[]string{"test", "fault"}, "accepts 1 arg"},
		{[]string{"test", "remove"}, "give a credential ID or --all"},
		{[]string{"test", "remove", "abc", "--all"}, "give a credential ID or --all"},
		{[]string{"test", "uv", "maybe"}, `uv "maybe"`},
		{[]string{"test", "uv", "clear", "--count", "2"}, "no --count"},
		{[]string{"test", "faults", "purge"}, "the only subcommand is clear"},
		{[]string{"test", "add-credential", "--generate"}, "--rp is required"},
		{[]string{"test", "add-credential", "--rp", "example.com"}, "exactly one of --key FILE and --generate"},
		{[]string{"serve", "--allow-export"}, "--allow-export needs --test-controls"},
		{[]string{"serve", "--allow-export", "--test-controls", "--keystore", "file"}, "--allow-export needs --ephemeral or --keystore memory"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			oneLine(t, runCLI(t, nil, "", c.args...), exitUsage, c.want)
		})
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	pemFile, der := writeKey(t, dir)
	derFile := filepath.Join(dir, "key.der")
	os.WriteFile(derFile, der, 0o600)
	k, _ := x509.ParsePKCS8PrivateKey(der)
	sec1, _ := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	sec1File := filepath.Join(dir, "key.sec1.pem")
	os.WriteFile(sec1File, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600)
	for _, f := range []string{pemFile, derFile, sec1File} {
		got, err := loadOrGenerateKey(f)
		if err != nil || !got.Equal(k) {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(p384)
	bad := filepath.Join(dir, "p384.der")
	os.WriteFile(bad, der384, 0o600)
	if _, err := loadOrGenerateKey(bad); err == nil || !strings.Contains(err.Error(), "P-256") {
		t.Errorf("P-384: %v", err)
	}
	if _, err := loadOrGenerateKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was read")
	}
}

// TestFaultHelpNamesEveryKind keeps the help of passkeyd test fault in step
// with the provider's fault kinds.
func TestFaultHelpNamesEveryKind(t *testing.T) {
	long := newTestFaultCmd(&dirs{}).Long
	for _, k := range provider.FaultKinds {
		if !strings.Contains(long, "\n  "+string(k)+" ") {
			t.Errorf("passkeyd test fault --help does not explain %s", k)
		}
	}
}

// TestWatchEndsAtShutdown: a watcher does not hold up the daemon's
// shutdown, and learns that the daemon stopped.
func TestWatchEndsAtShutdown(t *testing.T) {
	base := shortTempDir(t)
	d, err := daemon.Start(daemon.Config{StateDir: filepath.Join(base, "state"), RuntimeDir: filepath.Join(base, "run"),
		Ephemeral: true, UV: "approve", TestControls: true, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- watchEvents(context.Background(), newAPIClient(&dirs{runtime: filepath.Join(base, "run")}), pw, 0)
	}()
	lines := bufio.NewReader(pr)
	if first, err := lines.ReadString('\n'); err != nil || !strings.Contains(first, "subscribed") {
		t.Fatalf("first line %q, %v", first, err)
	}
	go io.Copy(io.Discard, lines)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a watcher: %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("shutdown took %v with a watcher", took)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "the daemon stopped") {
			t.Errorf("watch after shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end with the daemon")
	}
}
