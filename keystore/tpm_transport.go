package keystore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// DefaultTPM is the TPM that OpenTPM uses when its spec is empty: the
// kernel's resource-managed TPM 2.0 device.
const DefaultTPM = "/dev/tpmrm0"

// openSimulator opens the in-process TPM simulator. It is nil unless the
// binary was built with the tpmsim tag (see tpm_sim.go), which keeps cgo and
// the reference TPM out of the default build.
var openSimulator func(seed int64) (transport.TPMCloser, error)

// openTPMTransport opens the TPM named by spec: a device path,
// tcp:HOST:PORT (swtpm; its control port is PORT+1) or sim[:SEED].
func openTPMTransport(spec string) (transport.TPMCloser, error) {
	switch {
	case spec == "":
		return openTPMDevice(DefaultTPM)
	case strings.HasPrefix(spec, "/"):
		return openTPMDevice(spec)
	case strings.HasPrefix(spec, "tcp:"):
		return openSWTPM(strings.TrimPrefix(spec, "tcp:"))
	case spec == "sim" || strings.HasPrefix(spec, "sim:"):
		return openTPMSimulator(strings.TrimPrefix(strings.TrimPrefix(spec, "sim"), ":"))
	}
	return nil, fmt.Errorf("%w: unknown TPM %q: use a device path such as %s, tcp:HOST:PORT for swtpm, or sim",
		ErrTPMUnavailable, spec, DefaultTPM)
}

func openTPMDevice(path string) (transport.TPMCloser, error) {
	t, err := linuxtpm.Open(path)
	switch {
	case err == nil:
		return t, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: there is no TPM at %s: this machine has no TPM 2.0 or its driver is not loaded "+
			"(use --tpm tcp:127.0.0.1:2321 with swtpm, or another keystore)", ErrTPMUnavailable, path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%w: permission denied on %s: add your user to the tss group "+
			"(sudo usermod -aG tss $USER) and log in again", ErrTPMUnavailable, path)
	}
	return nil, fmt.Errorf("%w: failed to open %s: %v", ErrTPMUnavailable, path, err)
}

// openSWTPM connects to swtpm's TCP server. Only its command port is used;
// the platform connection that go-tpm's tcp transport also opens must never
// be sent MS-simulator platform commands (PowerOn, Reset): swtpm's control
// port speaks another protocol.
func openSWTPM(hostPort string) (transport.TPMCloser, error) {
	host, portStr, err := net.SplitHostPort(hostPort)
	port, perr := strconv.ParseUint(portStr, 10, 16)
	if err != nil || perr != nil || port == 0 || port == 65535 {
		return nil, fmt.Errorf("%w: bad swtpm address %q: want tcp:HOST:PORT", ErrTPMUnavailable, hostPort)
	}
	platform := net.JoinHostPort(host, strconv.FormatUint(port+1, 10))
	t, err := tcp.Open(tcp.Config{CommandAddress: hostPort, PlatformAddress: platform})
	if err == nil {
		return t, nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("%w: nothing is listening at %s and %s: start swtpm "+
			"(swtpm socket --tpm2 --tpmstate dir=DIR --server type=tcp,port=%d --ctrl type=tcp,port=%d "+
			"--flags not-need-init,startup-clear)", ErrTPMUnavailable, hostPort, platform, port, port+1)
	}
	return nil, fmt.Errorf("%w: failed to connect to swtpm at %s: %v", ErrTPMUnavailable, hostPort, err)
}

func openTPMSimulator(seed string) (transport.TPMCloser, error) {
	if openSimulator == nil {
		return nil, fmt.Errorf("%w: this passkeyd was built without the TPM simulator (build tag tpmsim)", ErrTPMUnavailable)
	}
	var n int64
	if seed != "" {
		var err error
		if n, err = strconv.ParseInt(seed, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: bad simulator seed %q: want sim or sim:INTEGER", ErrTPMUnavailable, seed)
		}
	}
	return openSimulator(n)
}

// retryTPM resends a command that the TPM answered with a warning meaning
// "not now, try again": TPM_RC_RETRY (a fresh swtpm answers the first ECDSA
// Sign with it while it self-tests), TPM_RC_YIELDED, TPM_RC_CANCELED and
// TPM_RC_TESTING. go-tpm's Execute does not retry on most transports.
type retryTPM struct {
	transport.TPMCloser
	tries   int           // attempts per command, at least 1
	delay   time.Duration // first back-off; doubles on each retry
	retries atomic.Int64  // retries done, for tests
}

// Send implements transport.TPM.
func (t *retryTPM) Send(cmd []byte) ([]byte, error) {
	delay := t.delay
	for attempt := 1; ; attempt++ {
		rsp, err := t.TPMCloser.Send(cmd)
		if err != nil || attempt >= t.tries || !retryable(rsp) {
			return rsp, err
		}
		t.retries.Add(1)
		time.Sleep(delay)
		delay *= 2
	}
}

func retryable(rsp []byte) bool {
	if len(rsp) < 10 {
		return false
	}
	switch tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])) {
	case tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCCanceled, tpm2.TPMRCTesting:
		return true
	}
	return false
}
