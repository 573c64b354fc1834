package userverify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pinTest is a PIN method wired to the fake pinentry and a vault.
type pinTest struct {
	t      *testing.T
	dir    string
	store  *memSettings
	clock  *fakeClock
	vault  *PINVault
	logged *syncBuffer
}

func newPINTest(t *testing.T, pin string) *pinTest {
	pt := &pinTest{t: t, dir: t.TempDir(), store: newMemSettings(), clock: newFakeClock()}
	t.Setenv("FAKE_PINENTRY_DIR", pt.dir)
	pt.restart()
	if pin != "" {
		setPIN(t, pt.vault, pin)
	}
	return pt
}

// restart reopens the vault, as a restarted daemon does.
func (pt *pinTest) restart() { pt.vault = openVault(pt.t, pt.store, pt.clock) }

func (pt *pinTest) method() *PIN {
	logger, buf := testLogger()
	pt.logged = buf
	program, err := filepath.Abs("testdata/fake-pinentry.sh")
	if err != nil {
		pt.t.Fatal(err)
	}
	return &PIN{Vault: pt.vault, Pinentry: program, Logger: logger}
}

// answer makes the pinentry answer these, one per GETPIN.
func (pt *pinTest) answer(answers ...string) {
	pt.t.Helper()
	_ = os.Remove(filepath.Join(pt.dir, "log"))
	err := os.WriteFile(filepath.Join(pt.dir, "answers"), []byte(strings.Join(answers, "\n")+"\n"), 0o600)
	if err != nil {
		pt.t.Fatal(err)
	}
}

// requests returns what the pinentry was sent since the last answer call.
func (pt *pinTest) requests() string {
	b, _ := os.ReadFile(filepath.Join(pt.dir, "log"))
	return string(b)
}

var aliceSignIn = Request{
	Operation: OpGetAssertion,
	RPID:      "example.com",
	UserName:  "alice@example.com",
	Reason:    "Sign in to example.com as alice@example.com (100% sure)",
}

func TestPINRightPIN(t *testing.T) {
	pt := newPINTest(t, "4711")
	pt.answer("4711")
	wantErr(t, pt.method().Verify(bg, aliceSignIn), nil)
	got := pt.requests()
	want := "SETTITLE passkeyd\n" +
		"SETDESC Sign in to example.com as alice@example.com (100%25 sure)%0A%0ASite: example.com%0A" +
		"Account: alice@example.com%0A%0AEnter your screen-lock PIN to continue.\n" +
		"SETPROMPT PIN:\nGETPIN\nBYE\n"
	if got != want {
		t.Fatalf("the pinentry got\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(pt.logged.String(), "4711") || !strings.Contains(pt.logged.String(), "outcome=verified") {
		t.Fatalf("log: %s", pt.logged)
	}
}

func TestPINPercentEscapedAnswer(t *testing.T) {
	pt := newPINTest(t, "12%34 5")
	pt.answer("12%2534%205")
	wantErr(t, pt.method().Verify(bg, aliceSignIn), nil)
}

func TestPINWrongThenRight(t *testing.T) {
	pt := newPINTest(t, "4711")
	pt.answer("0000", "", "4711")
	wantErr(t, pt.method().Verify(bg, aliceSignIn), nil)
	got := pt.requests()
	if !strings.Contains(got, "SETERROR Wrong PIN. 7 tries left before the PIN is blocked.\n") ||
		!strings.Contains(got, "SETERROR Enter your PIN.\n") || strings.Count(got, "GETPIN") != 3 {
		t.Fatalf("the pinentry got\n%s", got)
	}
	if pt.vault.Retries() != MaxPINRetries {
		t.Fatalf("retries %d after the right PIN", pt.vault.Retries())
	}
}

func TestPINAttemptsPerRequest(t *testing.T) {
	pt := newPINTest(t, "4711")
	pt.answer("0000", "1111", "4711")
	m := pt.method()
	m.Attempts = 2
	err := m.Verify(bg, aliceSignIn)
	wantErr(t, err, ErrDenied)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrLockedOut) {
		t.Fatalf("%v lets a chain move on or claims a lockout", err)
	}
	if n := strings.Count(pt.requests(), "GETPIN"); n != 2 {
		t.Fatalf("asked %d times", n)
	}
}

func TestPINWrongPINsToLockout(t *testing.T) {
	pt := newPINTest(t, "4711")
	pt.answer("0000", "0000", "0000", "4711")
	// The 3rd wrong PIN in a row blocks tries until a restart.
	err := pt.method().Verify(bg, aliceSignIn)
	wantErr(t, err, ErrLockedOut)
	wantErr(t, err, ErrPINAuthBlocked)
	if n := strings.Count(pt.requests(), "GETPIN"); n != 3 {
		t.Fatalf("asked %d times", n)
	}
	// After a restart, the 4th wrong PIN in a row starts a 30 s lockout.
	pt.restart()
	pt.answer("0000", "4711")
	wantErr(t, pt.method().Verify(bg, aliceSignIn), ErrLockedOut)
	if n := strings.Count(pt.requests(), "GETPIN"); n != 1 {
		t.Fatalf("asked %d times during a lockout", n)
	}
	// During the lockout, and after a restart in the middle of it, nobody is asked.
	for _, restart := range []bool{false, true} {
		if restart {
			pt.clock.Advance(10 * time.Second)
			pt.restart()
		}
		pt.answer("4711")
		err = pt.method().Verify(bg, aliceSignIn)
		var lockout *LockoutError
		if !errors.As(err, &lockout) || !lockout.Until.Equal(pt.vault.LockedUntil()) {
			t.Fatalf("restart=%v: got %v, want a lockout", restart, err)
		}
		if pt.requests() != "" {
			t.Fatalf("restart=%v: the pinentry ran during a lockout:\n%s", restart, pt.requests())
		}
	}
	pt.clock.Advance(20 * time.Second)
	pt.answer("4711")
	wantErr(t, pt.method().Verify(bg, aliceSignIn), nil)
}

func TestPINBlocked(t *testing.T) {
	pt := newPINTest(t, "4711")
	for pt.vault.Retries() > 0 {
		pt.clock.Advance(time.Hour)
		pt.restart()
		_ = pt.vault.Check(PINHash("0000"))
	}
	pt.answer("4711")
	err := pt.method().Verify(bg, aliceSignIn)
	wantErr(t, err, ErrLockedOut)
	wantErr(t, err, ErrPINBlocked)
}

func TestPINCancelled(t *testing.T) {
	pt := newPINTest(t, "4711")
	pt.answer("cancel")
	err := pt.method().Verify(bg, aliceSignIn)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrDenied) {
		t.Fatalf("got %v, want the user to have given up", err)
	}
	if pt.vault.Retries() != MaxPINRetries {
		t.Fatal("a cancelled prompt used a retry")
	}
}

func TestPINPinentryTimeout(t *testing.T) {
	pt := newPINTest(t, "4711")
	pt.answer("timeout")
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	wantErr(t, pt.method().Verify(ctx, aliceSignIn), ErrTimeout)
	if !strings.Contains(pt.requests(), "SETTIMEOUT 60\n") {
		t.Fatalf("the pinentry got\n%s", pt.requests())
	}
}

func TestPINKilledWhenContextEnds(t *testing.T) {
	for _, tt := range []struct {
		name string
		want error
	}{{"cancel", ErrCancelled}, {"deadline", ErrTimeout}} {
		t.Run(tt.name, func(t *testing.T) {
			pt := newPINTest(t, "4711")
			pt.answer("hang")
			ctx, cancel := context.WithCancel(bg)
			if tt.name == "deadline" {
				ctx, cancel = context.WithTimeout(bg, 1500*time.Millisecond)
			}
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- pt.method().Verify(ctx, aliceSignIn) }()
			pid := readPID(t, filepath.Join(pt.dir, "pid"))
			child := readPID(t, filepath.Join(pt.dir, "child"))
			if tt.name == "cancel" {
				cancel()
			}
			select {
			case err := <-done:
				wantErr(t, err, tt.want)
			case <-time.After(5 * time.Second):
				t.Fatal("Verify did not return after the context ended")
			}
			waitGone(t, pid)
			waitGone(t, child)
		})
	}
}

func TestPINUnavailable(t *testing.T) {
	pt := newPINTest(t, "")
	pt.answer("4711")
	wantErr(t, pt.method().Verify(bg, aliceSignIn), ErrUnavailable)
	if pt.requests() != "" {
		t.Fatal("the pinentry ran without a PIN set")
	}
	setPIN(t, pt.vault, "4711")
	m := pt.method()
	m.Pinentry = filepath.Join(t.TempDir(), "no-such-pinentry")
	wantErr(t, m.Verify(bg, aliceSignIn), ErrUnavailable)
	wantErr(t, (&PIN{}).Verify(bg, aliceSignIn), ErrUnavailable)
	// A program that is not a pinentry.
	m.Pinentry = writeScript(t, t.TempDir(), "not-pinentry", "echo hello\n")
	wantErr(t, m.Verify(bg, aliceSignIn), ErrUnavailable)
}

func TestPromptTextWithoutReason(t *testing.T) {
	got := promptText(Request{Operation: OpMakeCredential, RPID: "example.com"})
	want := "Create a passkey\n\nSite: example.com\n\nEnter your screen-lock PIN to continue."
	if got != want {
		t.Fatalf("promptText = %q", got)
	}
}
