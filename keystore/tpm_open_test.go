package keystore

import (
	"errors"
	"github.com/passkeyd/passkeyd/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// setOwnerPassword gives the swtpm's owner hierarchy a password, as an
// administrator might have, straight through go-tpm.
func setOwnerPassword(t *testing.T, w *testenv.SWTPM, password string) {
	t.Helper()
	conn, err := tcp.Open(tcp.Config{
		CommandAddress:  "127.0.0.1:" + strconv.Itoa(w.Port),
		PlatformAddress: "127.0.0.1:" + strconv.Itoa(w.Port+1),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := (tpm2.HierarchyChangeAuth{
		AuthHandle: tpm2.TPMRHOwner,
		NewAuth:    tpm2.TPM2BAuth{Buffer: []byte(password)},
	}).Execute(conn); err != nil {
		t.Fatalf("HierarchyChangeAuth: %v", err)
	}
}

func TestTPMOwnerPasswordExplained(t *testing.T) {
	w := startSWTPM(t)
	setOwnerPassword(t, w, "hunter2")
	_, err := OpenTPM(w.Spec(), t.TempDir())
	if !errors.Is(err, ErrTPMOwnerPassword) {
		t.Fatalf("OpenTPM with an owner password: err = %v, want ErrTPMOwnerPassword", err)
	}
	for _, words := range []string{"owner hierarchy has a password", "tpm2_changeauth -c owner"} {
		if !strings.Contains(err.Error(), words) {
			t.Errorf("error %q does not say %q", err, words)
		}
	}
}

// TestTPMOwnerPasswordAdvice follows the advice in the error with
// tpm2-tools, then opens again.
func TestTPMOwnerPasswordAdvice(t *testing.T) {
	if _, err := exec.LookPath("tpm2_changeauth"); err != nil {
		t.Skip("tpm2-tools is not installed")
	}
	w := startSWTPM(t)
	setOwnerPassword(t, w, "hunter2")
	tcti := "swtpm:host=127.0.0.1,port=" + strconv.Itoa(w.Port)
	out, err := exec.Command("tpm2_changeauth", "-T", tcti, "-c", "owner", "-p", "hunter2").CombinedOutput()
	if err != nil {
		t.Fatalf("tpm2_changeauth: %v\n%s", err, out)
	}
	openTestTPM(t, w.Spec(), t.TempDir())
}

func TestTPMOpenFailuresExplained(t *testing.T) {
	notDevice := filepath.Join(t.TempDir(), "regular-file")
	os.WriteFile(notDevice, nil, 0o600)
	for _, tc := range []struct {
		name, spec, says string
	}{
		{"no device", "/dev/tpm-does-not-exist", "there is no TPM at /dev/tpm-does-not-exist"},
		{"not a device", notDevice, "not a device"},
		{"swtpm not running", "tcp:127.0.0.1:" + strconv.Itoa(freePortPair(t)), "start swtpm"},
		{"bad address", "tcp:localhost", "want tcp:HOST:PORT"},
		{"unknown spec", "tpm0", "unknown TPM"},
		{"bad seed", "sim:x", "sim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenTPM(tc.spec, t.TempDir())
			if !errors.Is(err, ErrTPMUnavailable) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("OpenTPM(%q): err = %v, want ErrTPMUnavailable saying %q", tc.spec, err, tc.says)
			}
		})
	}
}

func TestTPMPermissionDeniedExplained(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may open any device, so permission denied cannot happen")
	}
	const dev = "/dev/tpmrm0"
	if _, err := os.Stat(dev); err != nil {
		t.Skip("no " + dev)
	}
	_, err := OpenTPM(dev, t.TempDir())
	if err != nil && strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "tss group") {
		t.Fatalf("error %q does not mention the tss group", err)
	}
}

func TestTPMSimulatorAbsentExplained(t *testing.T) {
	if openSimulator != nil {
		t.Skip("built with the tpmsim tag")
	}
	_, err := OpenTPM("sim", t.TempDir())
	if !errors.Is(err, ErrTPMUnavailable) || !strings.Contains(err.Error(), "tpmsim") {
		t.Fatalf("OpenTPM(sim) without the simulator: err = %v", err)
	}
}

func TestTPMStartupWhenSWTPMWasNotStarted(t *testing.T) {
	w := startSWTPM(t)
	// Power-cycle through swtpm's own control protocol: afterwards the TPM
	// wants TPM2_Startup before anything else.
	if _, err := exec.LookPath("swtpm_ioctl"); err != nil {
		t.Skip("swtpm_ioctl is not installed")
	}
	out, err := exec.Command("swtpm_ioctl", "--tcp", "127.0.0.1:"+strconv.Itoa(w.Port+1), "-i").CombinedOutput()
	if err != nil {
		t.Fatalf("swtpm_ioctl -i: %v\n%s", err, out)
	}
	s := openTestTPM(t, w.Spec(), t.TempDir())
	if _, _, err := s.NewKey(credID(1)); err != nil {
		t.Fatal(err)
	}
}

func TestTPMEmptyStateDirRefused(t *testing.T) {
	if _, err := OpenTPM("sim", ""); err == nil {
		t.Fatal("OpenTPM without a state directory succeeded")
	}
}
