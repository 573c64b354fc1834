package userverify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// startBus starts a private dbus-daemon for one test and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (Debian: apt-get install dbus-daemon); " +
			"the biometric tests run a fake fprintd on a private bus")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "bus.conf")
	err = os.WriteFile(config, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=`+dir+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+config, "--print-address", "--nofork")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	address, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(address)
}

// fakeFprintd serves the Manager and one Device of fprintd's D-Bus API.
type fakeFprintd struct {
	conn *dbus.Conn

	mu       sync.Mutex
	calls    []string
	noDevice bool
	claimErr string     // a D-Bus error name Claim answers
	startErr string     // a D-Bus error name VerifyStart answers
	script   [][]string // per VerifyStart, "result done|more" statuses to emit
	started  chan struct{}
}

const fakeDevicePath = dbus.ObjectPath("/net/reactivated/Fprint/Device/0")

func startFprintd(t *testing.T, address string) *fakeFprintd {
	t.Helper()
	conn, err := dbus.Connect(address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeFprintd{conn: conn, started: make(chan struct{}, 16)}
	if err := conn.Export(fakeManager{f}, fprintManagerPath, fprintManager); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(fakeDevice{f}, fakeDevicePath, fprintDevice); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(fprintService, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("cannot own %s: %v %v", fprintService, reply, err)
	}
	return f
}

func (f *fakeFprintd) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

type fakeManager struct{ f *fakeFprintd }

// configure changes the fake under its lock.
func (f *fakeFprintd) configure(setup func(*fakeFprintd)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	setup(f)
}

// record notes a call and returns the fake's settings as they are now.
func (f *fakeFprintd) record(call string) fakeFprintd {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return fakeFprintd{noDevice: f.noDevice, claimErr: f.claimErr, startErr: f.startErr}
}

func (m fakeManager) GetDefaultDevice() (dbus.ObjectPath, *dbus.Error) {
	if m.f.record("GetDefaultDevice").noDevice {
		return "", dbus.NewError(fprintErrNoDevice, []any{"No devices available"})
	}
	return fakeDevicePath, nil
}

type fakeDevice struct{ f *fakeFprintd }

func (d fakeDevice) Claim(user string) *dbus.Error {
	if name := d.f.record(fmt.Sprintf("Claim(%q)", user)).claimErr; name != "" {
		return dbus.NewError(name, []any{"refused"})
	}
	return nil
}

func (d fakeDevice) Release() *dbus.Error {
	d.f.record("Release")
	return nil
}

func (d fakeDevice) VerifyStop() *dbus.Error {
	d.f.record("VerifyStop")
	return nil
}

func (d fakeDevice) VerifyStart(finger string) *dbus.Error {
	if name := d.f.record(fmt.Sprintf("VerifyStart(%q)", finger)).startErr; name != "" {
		return dbus.NewError(name, []any{"refused"})
	}
	d.f.mu.Lock()
	var statuses []string
	if len(d.f.script) > 0 {
		statuses, d.f.script = d.f.script[0], d.f.script[1:]
	}
	d.f.mu.Unlock()
	go func() {
		for _, s := range statuses {
			result, more, _ := strings.Cut(s, " ")
			_ = d.f.conn.Emit(fakeDevicePath, fprintVerifyEvent, result, more != "more")
		}
	}()
	d.f.started <- struct{}{}
	return nil
}

func quietBiometric(address string) *Biometric {
	logger, _ := testLogger()
	return &Biometric{Address: address, Logger: logger, CallTimeout: 2 * time.Second}
}

func TestBiometric(t *testing.T) {
	session := []string{`Claim("")`, `VerifyStart("any")`, "VerifyStop", "Release"}
	tests := []struct {
		name      string
		setup     func(*fakeFprintd)
		want      error
		gaveUp    bool
		wantCalls []string
	}{
		{"match", func(f *fakeFprintd) {
			f.script = [][]string{{"verify-retry-scan more", "verify-finger-not-centered more", "verify-match done"}}
		}, nil, false, session},
		{"no match then match", func(f *fakeFprintd) {
			f.script = [][]string{{"verify-no-match done"}, {"verify-swipe-too-short more", "verify-match done"}}
		}, nil, false, []string{`Claim("")`, `VerifyStart("any")`, "VerifyStop", `VerifyStart("any")`, "VerifyStop", "Release"}},
		{"no match gives up", func(f *fakeFprintd) {
			for range defaultFingerAttempts {
				f.script = append(f.script, []string{"verify-remove-and-retry more", "verify-no-match done"})
			}
		}, ErrDenied, true, nil},
		{"disconnected", func(f *fakeFprintd) {
			f.script = [][]string{{"verify-disconnected more"}}
		}, ErrUnavailable, false, session},
		{"unknown error", func(f *fakeFprintd) {
			f.script = [][]string{{"verify-unknown-error done"}}
		}, ErrUnavailable, false, session},
		{"no device", func(f *fakeFprintd) { f.noDevice = true }, ErrUnavailable, false, []string{}},
		{"no enrolled finger", func(f *fakeFprintd) { f.startErr = fprintErrNoPrints }, ErrUnavailable, false,
			[]string{`Claim("")`, `VerifyStart("any")`, "Release"}},
		{"reader in use", func(f *fakeFprintd) { f.claimErr = fprintErrInUse }, ErrUnavailable, false,
			[]string{`Claim("")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			address := startBus(t)
			f := startFprintd(t, address)
			f.configure(tt.setup)
			err := quietBiometric(address).Verify(bg, aliceSignIn)
			wantErr(t, err, tt.want)
			if tt.want != nil && errors.Is(err, ErrUnavailable) && errors.Is(err, ErrDenied) != tt.gaveUp {
				t.Fatalf("%v: gave up = %v, want %v", err, !tt.gaveUp, tt.gaveUp)
			}
			calls := f.recorded()[1:] // after GetDefaultDevice
			if tt.wantCalls != nil && !slices.Equal(calls, tt.wantCalls) {
				t.Fatalf("fprintd got %q, want %q", calls, tt.wantCalls)
			}
			if tt.gaveUp && strings.Count(strings.Join(calls, " "), "VerifyStart") != defaultFingerAttempts {
				t.Fatalf("fprintd got %q", calls)
			}
		})
	}
}

func TestBiometricContextEnds(t *testing.T) {
	for _, tt := range []struct {
		name string
		want error
	}{{"cancel", ErrCancelled}, {"deadline", ErrTimeout}} {
		t.Run(tt.name, func(t *testing.T) {
			address := startBus(t)
			f := startFprintd(t, address)
			ctx, cancel := context.WithCancel(bg)
			if tt.name == "deadline" {
				ctx, cancel = context.WithTimeout(bg, 1500*time.Millisecond)
			}
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- quietBiometric(address).Verify(ctx, aliceSignIn) }()
			select {
			case <-f.started:
			case <-time.After(5 * time.Second):
				t.Fatal("the verification never started")
			}
			if tt.name == "cancel" {
				cancel()
			}
			select {
			case err := <-done:
				wantErr(t, err, tt.want)
			case <-time.After(5 * time.Second):
				t.Fatal("Verify did not return after the context ended")
			}
			want := []string{"GetDefaultDevice", `Claim("")`, `VerifyStart("any")`, "VerifyStop", "Release"}
			if calls := f.recorded(); !slices.Equal(calls, want) {
				t.Fatalf("fprintd got %q, want %q", calls, want)
			}
		})
	}
}

func TestBiometricUnavailableFast(t *testing.T) {
	// A socket that accepts and never answers: a hung bus.
	hung := filepath.Join(t.TempDir(), "hung")
	l, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tests := map[string]func(t *testing.T) string{
		"no bus":     func(t *testing.T) string { return "unix:path=" + filepath.Join(t.TempDir(), "none") },
		"hung bus":   func(*testing.T) string { return "unix:path=" + hung },
		"no fprintd": startBus,
	}
	for name, address := range tests {
		t.Run(name, func(t *testing.T) {
			b := quietBiometric(address(t))
			b.CallTimeout = 300 * time.Millisecond
			start := time.Now()
			wantErr(t, b.Verify(bg, aliceSignIn), ErrUnavailable)
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("took %v", took)
			}
		})
	}
}

func TestChainBiometricFallsBackToPIN(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(*fakeFprintd)
	}{
		{"no device", func(f *fakeFprintd) { f.noDevice = true }},
		{"no enrolled finger", func(f *fakeFprintd) { f.startErr = fprintErrNoPrints }},
		{"fingerprint not recognised", func(f *fakeFprintd) {
			for range 2 * defaultFingerAttempts { // two requests
				f.script = append(f.script, []string{"verify-no-match done"})
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			address := startBus(t)
			startFprintd(t, address).configure(tt.setup)
			pt := newPINTest(t, "4711")
			pinentry, _ := filepath.Abs("testdata/fake-pinentry.sh")
			logger, _ := testLogger()
			uv, err := Parse("biometric,pin", Deps{Vault: pt.vault, Pinentry: pinentry, DBusAddress: address, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			pt.answer("4711")
			wantErr(t, uv.Verify(bg, aliceSignIn), nil)
			if !strings.Contains(pt.requests(), "GETPIN") {
				t.Fatal("the PIN was not asked")
			}
			pt.answer("cancel")
			wantErr(t, uv.Verify(bg, aliceSignIn), ErrDenied)
		})
	}
}

func TestChainBiometricMatchSkipsPIN(t *testing.T) {
	address := startBus(t)
	startFprintd(t, address).configure(func(f *fakeFprintd) {
		f.script = [][]string{{"verify-match done"}}
	})
	pt := newPINTest(t, "4711")
	pt.answer("4711")
	logger, _ := testLogger()
	uv, err := Parse("biometric,pin", Deps{Vault: pt.vault, Pinentry: "/nonexistent", DBusAddress: address, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, uv.Verify(bg, aliceSignIn), nil)
}
