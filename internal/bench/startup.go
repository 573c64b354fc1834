package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

// readyTimeout bounds how long [MeasureStartup] waits for the sockets.
const readyTimeout = 30 * time.Second

// Startup is one start of `passkeyd serve` on a filled state directory.
type Startup struct {
	Credentials int     `json:"credentials"` // stored, as the daemon reported
	ReadyMs     float64 `json:"readyMs"`     // from exec to both sockets accepting
	FirstMs     float64 `json:"firstAssertionMs"`
	Assertions  int     `json:"assertions"` // made before the memory was read
	RSSMB       float64 `json:"rssMB"`      // VmRSS after the assertions
	AnonMB      float64 `json:"anonMB"`     // RssAnon: the heap, stacks and runtime
	FileMB      float64 `json:"fileMB"`     // RssFile: the binary and the mapped store
	HWMMB       float64 `json:"peakRSSMB"`  // VmHWM: the most it was resident
	StopMs      float64 `json:"stopMs"`     // from SIGTERM to exit
}

// MeasureStartup runs command (passkeyd serve with its flags; it must use
// runtimeDir), times how long until ctaphid.sock and api.sock accept, makes
// assertions discoverable GetAssertions for rpID, reads the daemon's
// resident memory from /proc, and stops it with SIGTERM.
func MeasureStartup(ctx context.Context, command []string, runtimeDir, rpID string, assertions int) (Startup, error) {
	var s Startup
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	if err := waitReady(runtimeDir, exited); err != nil {
		return s, fmt.Errorf("%w; its stderr: %s", err, lastLines(stderr.String(), 5))
	}
	s.ReadyMs = ms(time.Since(began))
	if err := s.assert(ctx, runtimeDir, rpID, assertions); err != nil {
		return s, err
	}
	if err := s.readMemory(cmd.Process.Pid); err != nil {
		return s, err
	}
	// Counting reads every record, which a daemon that only answers
	// assertions never does: it comes after the memory is read.
	st, err := DaemonStatus(ctx, filepath.Join(runtimeDir, daemon.APISocket))
	if err != nil {
		return s, err
	}
	s.Credentials = st.Credentials
	stopAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return s, err
	}
	err = <-exited
	stopped = true
	s.StopMs = ms(time.Since(stopAt))
	if err != nil {
		return s, fmt.Errorf("bench: the daemon did not stop cleanly: %w; its stderr: %s", err, lastLines(stderr.String(), 5))
	}
	return s, nil
}

// waitReady polls until both sockets accept a connection.
func waitReady(runtimeDir string, exited <-chan error) error {
	deadline := time.Now().Add(readyTimeout)
	for _, name := range []string{daemon.CTAPHIDSocket, daemon.APISocket} {
		path := filepath.Join(runtimeDir, name)
		for {
			c, err := net.Dial("unix", path)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				return fmt.Errorf("bench: the daemon exited before it was ready (%v)", err)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: %s did not accept within %v", path, readyTimeout)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	return nil
}

// assert makes the assertions.
func (s *Startup) assert(ctx context.Context, runtimeDir, rpID string, assertions int) error {
	hc, err := hidclient.Dial(filepath.Join(runtimeDir, daemon.CTAPHIDSocket))
	if err != nil {
		return err
	}
	defer hc.Close()
	cc := ctapclient.New(hc)
	for i := range assertions {
		hash := make([]byte, 32)
		began := time.Now()
		_, err := cc.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: hash,
			Options: map[string]bool{"uv": true}}, nil)
		if errors.Is(err, ctap.ErrNoCredentials) {
			return fmt.Errorf("bench: the daemon has no credential for %s: fill the state directory first (%w)", rpID, err)
		}
		if err != nil {
			return fmt.Errorf("bench: assertion %d failed: %w", i+1, err)
		}
		if i == 0 {
			s.FirstMs = ms(time.Since(began))
		}
		s.Assertions++
	}
	return nil
}

// readMemory reads the resident memory of pid from /proc.
func (s *Startup) readMemory(pid int) error {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return fmt.Errorf("bench: cannot read the daemon's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "VmRSS":
			s.RSSMB = kb / 1024
		case "VmHWM":
			s.HWMMB = kb / 1024
		case "RssAnon":
			s.AnonMB = kb / 1024
		case "RssFile":
			s.FileMB = kb / 1024
		}
	}
	return sc.Err()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
