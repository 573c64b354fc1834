package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/daemon"
)

// slowHook writes a hook that records its PID and then waits for a minute
// before approving: a user who does not answer.
func slowHook(t *testing.T) (uv, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "pid")
	hook := filepath.Join(dir, "hook")
	script := fmt.Sprintf("#!/bin/sh\necho $$ >'%s.tmp' && mv '%s.tmp' '%s'\nexec sleep 60\n", pidFile, pidFile, pidFile)
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "command:" + hook, pidFile
}

// waitForFile polls for path, for up to 10 seconds.
func waitForFile(t *testing.T, path string) []byte {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil {
			return b
		}
	}
	t.Fatalf("%s did not appear within 10 s", path)
	return nil
}

// TestSecondDaemonRefused: a second daemon on the same state directory
// fails with a message that says what to do, and leaves the first one, its
// sockets included, untouched.
func TestSecondDaemonRefused(t *testing.T) {
	cfg := serveConfig(t, "approve")
	startDaemon(t, cfg)
	for name, runtime := range map[string]string{"same runtime dir": cfg.RuntimeDir, "other runtime dir": t.TempDir()} {
		second := cfg
		second.RuntimeDir = runtime
		d, err := daemon.Start(second)
		if err == nil {
			d.Shutdown(context.Background())
			t.Fatalf("%s: a second daemon started on %s", name, cfg.StateDir)
		}
		if msg := err.Error(); !strings.Contains(msg, "another passkeyd is already using the state directory") ||
			!strings.Contains(msg, cfg.StateDir) {
			t.Errorf("%s: second Start: %q, want it to name the state directory and the other daemon", name, msg)
		}
	}
	c, _ := dialHID(t, cfg)
	if _, err := c.GetInfo(context.Background()); err != nil {
		t.Fatalf("the first daemon after the refused second one: %v", err)
	}
}

// TestShutdownAnswersWaitingRequest: Shutdown (what SIGTERM does) while a
// request waits on a slow hook answers the request with KEEPALIVE_CANCEL,
// kills the hook, returns, closes the store and leaves nothing behind.
func TestShutdownAnswersWaitingRequest(t *testing.T) {
	uv, pidFile := slowHook(t)
	cfg := serveConfig(t, uv)
	d, err := daemon.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := dialHID(t, cfg)
	answered := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := c.MakeCredential(ctx, makeCredReq(hidRP, "slow", true), nil)
		answered <- err
	}()
	hookPID, err := strconv.Atoi(strings.TrimSpace(string(waitForFile(t, pidFile))))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Shutdown took %v with a request waiting on the user", took)
	}
	select {
	case err := <-answered:
		if !errors.Is(err, ctap.ErrKeepaliveCancel) {
			t.Errorf("the waiting request got %v, want KEEPALIVE_CANCEL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request was not answered after Shutdown returned")
	}
	if err := syscall.Kill(hookPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the hook (pid %d) is still there after Shutdown: %v", hookPID, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.RuntimeDir, daemon.CTAPHIDSocket)); err == nil {
		t.Errorf("ctaphid.sock is still there after Shutdown")
	}

	// The store was closed: the state directory can be opened again, and the
	// cancelled registration left no credential.
	cfg.UV = "approve"
	again := startDaemon(t, cfg)
	if n, _, err := again.P.Stats(); err != nil || n != 0 {
		t.Errorf("after a cancelled registration the store holds %d credentials (%v)", n, err)
	}
}
