package keystore

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

// swtpm is a Debian swtpm process serving TCP on 127.0.0.1.
type swtpm struct {
	stateDir string // --tpmstate dir, kept across restarts
	port     int    // command port; the control port is port+1
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd has been reaped
}

// spec is the OpenTPM spec that reaches it.
func (w *swtpm) spec() string { return "tcp:127.0.0.1:" + strconv.Itoa(w.port) }

// startSWTPM starts a fresh swtpm for one test and stops it at the end. It
// skips the test if swtpm is not installed.
func startSWTPM(t testing.TB) *swtpm {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Skip("swtpm is not installed (apt-get install swtpm swtpm-tools); skipping the TPM test")
	}
	w := &swtpm{stateDir: t.TempDir()}
	w.start(t)
	t.Cleanup(w.stop)
	return w
}

// start runs swtpm on free ports with the state in w.stateDir and waits
// until its command port accepts.
func (w *swtpm) start(t testing.TB) {
	t.Helper()
	for range 10 {
		w.port = freePortPair(t)
		w.cmd = exec.Command("swtpm", "socket", "--tpm2",
			"--tpmstate", "dir="+w.stateDir,
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", w.port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", w.port+1),
			"--flags", "not-need-init,startup-clear",
			"--log", "file="+filepath.Join(w.stateDir, "swtpm.log")+",level=1")
		w.cmd.Stderr = os.Stderr
		dieWithTest(w.cmd)
		if err := w.cmd.Start(); err != nil {
			t.Fatalf("failed to start swtpm: %v", err)
		}
		w.exited = make(chan struct{})
		go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(w.cmd, w.exited)
		if w.waitListening() {
			return
		}
		w.stop() // lost the ports to someone else: try others
	}
	t.Fatal("swtpm did not start listening")
}

// waitListening polls the command port until it accepts or swtpm exits.
func (w *swtpm) waitListening() bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(w.port))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
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

// stop kills swtpm by its PID and reaps it.
func (w *swtpm) stop() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	w.cmd.Process.Kill()
	<-w.exited
	w.cmd = nil
}

// restart stops swtpm and starts a new one on the same state, as after a
// reboot: objects in TPM memory are gone, the seeds remain.
func (w *swtpm) restart(t testing.TB) {
	t.Helper()
	w.stop()
	w.start(t)
}

// freePortPair finds a port P such that P and P+1 are free on 127.0.0.1.
func freePortPair(t testing.TB) int {
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
	t.Fatal("no two consecutive free ports")
	return 0
}
