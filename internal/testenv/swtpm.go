// Package testenv starts the real parts tests need (REAL-PARTS.md): Debian's
// swtpm for the TPM backend and tpm attestation. Only tests import it.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// SWTPM is a Debian swtpm process serving TCP on 127.0.0.1: the command port
// Port and the control port Port+1.
type SWTPM struct {
	StateDir string // --tpmstate dir, kept across restarts
	Port     int

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been reaped
}

// Spec is the keystore.OpenTPM spec that reaches it.
func (w *SWTPM) Spec() string { return "tcp:127.0.0.1:" + strconv.Itoa(w.Port) }

// Addr is the command port's address.
func (w *SWTPM) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(w.Port)) }

// StartSWTPM starts a fresh swtpm that stops when the test ends. It skips
// the test when swtpm is not installed (apt-get install swtpm swtpm-tools).
func StartSWTPM(t testing.TB) *SWTPM {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Skip("swtpm is not installed (apt-get install swtpm swtpm-tools); skipping the TPM test")
	}
	w := &SWTPM{StateDir: t.TempDir()}
	w.start(t)
	t.Cleanup(w.Stop)
	return w
}

// start runs swtpm on free ports and waits until its command port accepts.
// Ports can be lost to another process between choosing and binding: then
// it tries others.
func (w *SWTPM) start(t testing.TB) {
	t.Helper()
	for range 10 {
		w.Port = FreePortPair(t)
		w.cmd = exec.Command("swtpm", "socket", "--tpm2",
			"--tpmstate", "dir="+w.StateDir,
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", w.Port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", w.Port+1),
			"--flags", "not-need-init,startup-clear",
			"--log", "file="+filepath.Join(w.StateDir, "swtpm.log")+",level=1")
		w.cmd.Stderr = os.Stderr
		dieWithTest(w.cmd)
		if err := w.cmd.Start(); err != nil {
			t.Fatalf("failed to start swtpm: %v", err)
		}
		w.exited = make(chan struct{})
		go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(w.cmd, w.exited)
		if w.listening() {
			return
		}
		w.Stop()
	}
	t.Fatal("swtpm did not start listening")
}

func (w *SWTPM) listening() bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if c, err := net.DialTimeout("tcp", w.Addr(), 100*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		select {
		case <-w.exited:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	return false
}

// Stop kills swtpm by its PID and reaps it.
func (w *SWTPM) Stop() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	w.cmd.Process.Kill()
	<-w.exited
	w.cmd = nil
}

// Restart stops swtpm and starts it again on the same state, as after a
// reboot: objects in TPM memory are gone, the seeds remain.
func (w *SWTPM) Restart(t testing.TB) {
	t.Helper()
	w.Stop()
	w.start(t)
}

// FreePortPair finds a port P such that P and P+1 are free on 127.0.0.1.
func FreePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l1.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports on 127.0.0.1")
	return 0
}
