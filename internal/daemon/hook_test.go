package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/pinuv"
)

// hookLog is the log a command: hook writes: one
// OPERATION|RP_ID|USER_NAME line per call.
type hookLog struct {
	path string
	seen int
}

// newHook writes a hook that logs each call and then approves or denies as
// the decision file says. It returns the --uv method and the decision file.
func newHook(t *testing.T) (uv string, log *hookLog, decision string) {
	t.Helper()
	dir := t.TempDir()
	log = &hookLog{path: filepath.Join(dir, "calls.log")}
	decision = filepath.Join(dir, "decision")
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s|%%s|%%s\n' "$PASSKEYD_UV_OPERATION" "$PASSKEYD_UV_RP_ID" "$PASSKEYD_UV_USER_NAME" >>'%s'
[ "$(cat '%s')" = approve ]
`, log.path, decision)
	hook := filepath.Join(dir, "hook")
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	decide(t, decision, "approve")
	return "command:" + hook, log, decision
}

func decide(t *testing.T, decision, what string) {
	t.Helper()
	if err := os.WriteFile(decision, []byte(what+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// calls returns the calls logged since the last look.
func (l *hookLog) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	out := lines[l.seen:]
	l.seen = len(lines)
	return out
}

// asked checks that the hook was asked exactly want since the last look. A
// want ending in "*" also accepts the call without a user name:
// "get-assertion|example.com|alice*" accepts "get-assertion|example.com|",
// because the user is asked before the credential is located (CTAP 2.1
// §6.2.2 steps 6 and 7).
func (l *hookLog) asked(t *testing.T, what string, want ...string) {
	t.Helper()
	got := l.calls(t)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		if w, optional := strings.CutSuffix(want[i], "*"); optional {
			ok = got[i] == w || got[i] == w[:strings.LastIndex(w, "|")+1]
		} else {
			ok = got[i] == want[i]
		}
	}
	if !ok {
		t.Errorf("%s: the hook was asked %q, want %q", what, got, want)
	}
}

// hookFixture is a daemon whose --uv is the logging hook, and one host on
// its socket.
type hookFixture struct {
	t        *testing.T
	ctx      context.Context
	d        *daemon.Daemon
	c        *ctapclient.Client
	log      *hookLog
	decision string
}

func (f *hookFixture) token(perm uint, rpID string) (*ctapclient.Token, error) {
	return f.c.UVToken(f.ctx, pinuv.Two{}, perm, rpID)
}

func (f *hookFixture) mustToken(perm uint, rpID string) *ctapclient.Token {
	f.t.Helper()
	tok, err := f.token(perm, rpID)
	if err != nil {
		f.t.Fatalf("UV token: %v", err)
	}
	return tok
}

func (f *hookFixture) count() int {
	f.t.Helper()
	n, _, err := f.d.P.Stats()
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// users lists the user names of the discoverable credentials of hidRP.
func (f *hookFixture) users(tok *ctapclient.Token) []string {
	f.t.Helper()
	h := sha256.Sum256([]byte(hidRP))
	creds, err := f.c.Credentials(f.ctx, tok, h[:])
	if err != nil {
		f.t.Fatalf("enumerate credentials: %v", err)
	}
	var names []string
	for _, c := range creds {
		names = append(names, c.User.Name)
	}
	return names
}

// largeBlobArray is a serialized large-blob array (CTAP 2.1 §6.10.2): a CBOR
// array followed by LEFT(SHA-256(array), 16).
func largeBlobArray(items ...[]byte) []byte {
	arr := ctap.MustMarshal(items)
	h := sha256.Sum256(arr)
	return append(arr, h[:16]...)
}

// TestCommandHook runs every operation that asks the user through a
// command: hook, over ctaphid.sock: each must ask exactly once, with the
// right operation, RP and user. Then the hook denies, and nothing may be
// left behind: no credential, no signature, no change, no reset.
func TestCommandHook(t *testing.T) {
	uv, log, decision := newHook(t)
	cfg := serveConfig(t, uv)
	f := &hookFixture{t: t, d: startDaemon(t, cfg), log: log, decision: decision}
	var cancel context.CancelFunc
	f.ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.c, _ = dialHID(t, cfg)

	alice, lastCounter, blobs := approvedOperations(f)
	deniedOperations(f, alice)
	nothingChanged(f, alice, lastCounter, blobs)
}

// approvedOperations runs each asking operation once while the hook
// approves.
func approvedOperations(f *hookFixture) (alice testCred, lastCounter uint32, blobs []byte) {
	t, ctx, c := f.t, f.ctx, f.c
	if _, err := c.GetInfo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PINRetries(ctx); err != nil {
		t.Fatal(err)
	}
	f.log.asked(t, "GetInfo and getPINRetries")

	resp, err := c.MakeCredential(ctx, makeCredReq(hidRP, "alice", true), nil)
	if err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}
	alice = mustRegister(t, hidRP, resp)
	f.log.asked(t, "MakeCredential", "make-credential|example.com|alice")
	for _, user := range []string{"bob", "carol"} {
		if _, err := c.MakeCredential(ctx, makeCredReq(hidRP, user, user == "carol"), nil); err != nil {
			t.Fatalf("MakeCredential: %v", err)
		}
		f.log.asked(t, "MakeCredential", "make-credential|example.com|"+user)
	}

	req := getAssertReq(hidRP, alice.id)
	ga, err := c.GetAssertion(ctx, req, nil)
	if err != nil {
		t.Fatalf("GetAssertion: %v", err)
	}
	if lastCounter, err = checkAssertion(alice, req, ga); err != nil {
		t.Fatal(err)
	}
	f.log.asked(t, "GetAssertion", "get-assertion|example.com|alice")

	// A token got with built-in UV carries presence too: one question.
	tok := f.mustToken(ctap.PermGetAssertion, hidRP)
	req = getAssertReq(hidRP, alice.id)
	req.Options = nil
	if ga, err = c.GetAssertion(ctx, req, tok); err != nil {
		t.Fatalf("GetAssertion with a UV token: %v", err)
	}
	first := lastCounter
	if lastCounter, err = checkAssertion(alice, req, ga); err != nil {
		t.Fatal(err)
	}
	if lastCounter <= first {
		t.Fatalf("counter %d after %d: it must increase", lastCounter, first)
	}
	f.log.asked(t, "UV token, then GetAssertion with it", "get-assertion|example.com|")

	credentialManagement(f)
	blobs = largeBlobArray([]byte("blob written while approved"))
	if err := c.WriteLargeBlobs(ctx, f.mustToken(ctap.PermLargeBlobWrite, ""), blobs); err != nil {
		t.Fatalf("large-blob write: %v", err)
	}
	f.log.asked(t, "large-blob write", "large-blob-write||")

	if err := c.Config(ctx, f.mustToken(ctap.PermConfig, ""), ctap.CfgToggleAlwaysUV, nil); err != nil {
		t.Fatalf("config toggleAlwaysUv: %v", err)
	}
	f.log.asked(t, "config toggleAlwaysUv", "config||")
	if info, err := c.GetInfo(ctx); err != nil || !info.Options["alwaysUv"] {
		t.Fatalf("alwaysUv after toggling: %v (%v)", info.Options["alwaysUv"], err)
	}
	return alice, lastCounter, blobs
}

// credentialManagement lists, renames and deletes, each with a fresh token:
// the token is where the user is asked.
func credentialManagement(f *hookFixture) {
	t, ctx, c := f.t, f.ctx, f.c
	tok := f.mustToken(ctap.PermCredMgmt, "")
	rps, err := c.RPs(ctx, tok)
	if err != nil || len(rps) != 1 || rps[0].RP.ID != hidRP {
		t.Fatalf("enumerate RPs: %d (%v)", len(rps), err)
	}
	if got := f.users(tok); strings.Join(got, ",") != "alice,carol" && strings.Join(got, ",") != "carol,alice" {
		t.Fatalf("discoverable users %q, want alice and carol", got)
	}
	f.log.asked(t, "credential management: list", "credential-management||")

	h := sha256.Sum256([]byte(hidRP))
	creds, err := c.Credentials(ctx, f.mustToken(ctap.PermCredMgmt, ""), h[:])
	if err != nil {
		t.Fatal(err)
	}
	f.log.calls(t)
	byName := map[string]*ctap.CredMgmtResponse{}
	for _, cr := range creds {
		byName[cr.User.Name] = cr
	}
	tok = f.mustToken(ctap.PermCredMgmt, "")
	renamed := ctap.UserEntity{ID: byName["alice"].User.ID, Name: "alice.renamed", DisplayName: "Alice"}
	if err := c.UpdateUser(ctx, tok, byName["alice"].CredentialID.ID, renamed); err != nil {
		t.Fatalf("rename: %v", err)
	}
	f.log.asked(t, "credential management: rename", "credential-management||")
	if got := f.users(f.mustToken(ctap.PermCredMgmt, "")); !slices.Contains(got, "alice.renamed") {
		t.Fatalf("users after the rename: %q", got)
	}
	f.log.calls(t)

	tok = f.mustToken(ctap.PermCredMgmt, "")
	if err := c.DeleteCredential(ctx, tok, byName["carol"].CredentialID.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	f.log.asked(t, "credential management: delete", "credential-management||")
	if n := f.count(); n != 2 {
		t.Fatalf("%d credentials after deleting carol, want 2", n)
	}
}

// deniedOperations runs each asking operation while the hook denies: each
// asks once and is refused with OPERATION_DENIED.
func deniedOperations(f *hookFixture, alice testCred) {
	t, ctx, c := f.t, f.ctx, f.c
	decide(t, f.decision, "deny")
	before := f.count()
	denied := func(what string, err error, want ...string) {
		t.Helper()
		if !errors.Is(err, ctap.ErrOperationDenied) {
			t.Errorf("%s while the hook denies: %v, want OPERATION_DENIED", what, err)
		}
		f.log.asked(t, what, want...)
	}
	_, err := c.MakeCredential(ctx, makeCredReq(hidRP, "mallory", true), nil)
	denied("MakeCredential", err, "make-credential|example.com|mallory")
	_, err = c.GetAssertion(ctx, getAssertReq(hidRP, alice.id), nil)
	denied("GetAssertion", err, "get-assertion|example.com|alice.renamed")
	for perm, op := range map[uint]string{ctap.PermCredMgmt: "credential-management", ctap.PermLargeBlobWrite: "large-blob-write", ctap.PermConfig: "config"} {
		_, err = f.token(perm, "")
		denied(fmt.Sprintf("UV token with permission 0x%02x", perm), err, op+"||")
	}
	denied("Reset", c.Reset(ctx), "reset||")

	// Without a token nothing changes, and nobody is asked.
	if err := c.UpdateUser(ctx, nil, alice.id, ctap.UserEntity{ID: []byte("x"), Name: "mallory"}); !errors.Is(err, ctap.ErrPUATRequired) {
		t.Errorf("rename without a token: %v, want PUAT_REQUIRED", err)
	}
	forged := &ctapclient.Token{Protocol: pinuv.Two{}, Token: randomN(32)}
	if err := c.DeleteCredential(ctx, forged, alice.id); !errors.Is(err, ctap.ErrPINAuthInvalid) {
		t.Errorf("delete with a forged token: %v, want PIN_AUTH_INVALID", err)
	}
	f.log.asked(t, "credential management without a valid token")
	if n := f.count(); n != before {
		t.Errorf("%d credentials after the denials, want %d", n, before)
	}
}

// nothingChanged approves again and checks that the denials left nothing:
// the counter moved by one (no signature was made), the rename, the blobs,
// the config and the reset did not happen. Then a reset is approved.
func nothingChanged(f *hookFixture, alice testCred, lastCounter uint32, blobs []byte) {
	t, ctx, c := f.t, f.ctx, f.c
	decide(t, f.decision, "approve")
	req := getAssertReq(hidRP, alice.id)
	ga, err := c.GetAssertion(ctx, req, nil)
	if err != nil {
		t.Fatalf("GetAssertion after the denials: %v", err)
	}
	counter, err := checkAssertion(alice, req, ga)
	if err != nil {
		t.Fatal(err)
	}
	if counter != lastCounter+1 {
		t.Errorf("counter %d after a denied assertion, want %d: the denied one used a counter value", counter, lastCounter+1)
	}
	f.log.asked(t, "GetAssertion", "get-assertion|example.com|alice.renamed")

	tok := f.mustToken(ctap.PermCredMgmt, "")
	if got := f.users(tok); len(got) != 1 || got[0] != "alice.renamed" {
		t.Errorf("discoverable users after the denials: %q, want [alice.renamed]", got)
	}
	if got, err := c.ReadLargeBlobs(ctx); err != nil || !bytes.Equal(got, blobs) {
		t.Errorf("large blobs after the denials: %x (%v), want %x", got, err, blobs)
	}
	if info, err := c.GetInfo(ctx); err != nil || !info.Options["alwaysUv"] {
		t.Errorf("alwaysUv after the denials: %v (%v), want still true", info.Options["alwaysUv"], err)
	}
	f.log.calls(t)

	if err := c.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	f.log.asked(t, "Reset", "reset||")
	if n := f.count(); n != 0 {
		t.Errorf("%d credentials after an approved reset", n)
	}
}
