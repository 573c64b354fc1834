package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/provider"
)

// The socket path against the in-process path, in the same run: a daemon
// with the file keystore and --uv approve, one credential, GetAssertion
// with uv. Target (issue 3): the socket costs at most 1.3× in-process.
// The Floor benchmarks measure what a bare Unix socket costs around one
// signature on the same machine, which no socket path can beat.
//
//	go test -run '^$' -bench 'GetAssertion|Ping|Floor' -count 5 ./internal/daemon
//
// Both report round trips per second (wall clock) and the process's CPU
// time per operation, client and daemon together. On a loaded machine the
// CPU time is the steadier of the two.

// benchDaemon starts a daemon and registers one credential through c.
func benchDaemon(b *testing.B) (*daemon.Daemon, *ctapclient.Client, *ctap.GetAssertionRequest) {
	cfg := serveConfig(b, "approve")
	d := startDaemon(b, cfg)
	c, _ := dialHID(b, cfg)
	resp, err := c.MakeCredential(context.Background(), makeCredReq(hidRP, "bench", true), nil)
	if err != nil {
		b.Fatal(err)
	}
	cred := mustRegister(b, hidRP, resp)
	return d, c, getAssertReq(hidRP, cred.id)
}

// BenchmarkSocketGetAssertion: one round trip over ctaphid.sock through
// hidclient per operation (CBOR encode, CTAPHID framing both ways, the
// provider, the reply).
func BenchmarkSocketGetAssertion(b *testing.B) {
	_, c, req := benchDaemon(b)
	loopGetAssertion(b, c, req)
}

// BenchmarkInProcessGetAssertion: provider.GetAssertion called directly on
// the daemon's own provider.
func BenchmarkInProcessGetAssertion(b *testing.B) {
	d, _, req := benchDaemon(b)
	ctx := context.Background()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := d.P.GetAssertion(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu)
}

// BenchmarkCTAPClientGetAssertion is the same client as the socket path
// (ctapclient encoding the request and decoding the reply) and the same
// provider.ServeCTAP, with no transport between them: the difference to
// BenchmarkSocketGetAssertion is what CTAPHID over the socket costs.
func BenchmarkCTAPClientGetAssertion(b *testing.B) {
	d, _, req := benchDaemon(b)
	c := ctapclient.New(ctapclient.HandlerFunc(d.P.ServeCTAP))
	loopGetAssertion(b, c, req)
}

// BenchmarkSocketPing is the floor of the socket path: a CTAPHID_PING of
// the size of a GetAssertion request and back, with no CTAP behind it.
func BenchmarkSocketPing(b *testing.B) {
	cfg := serveConfig(b, "approve")
	startDaemon(b, cfg)
	_, hc := dialHID(b, cfg)
	data := randomN(120)
	ctx := context.Background()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := hc.Ping(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu)
}

// The floor of any socket path on this machine, in the same run: a bare
// Unix-socket echo (no CTAPHID, no CBOR, no provider) whose server makes one
// P-256 signature per request, beside the signature alone. Their ratio is
// what crossing a socket costs around a signature here with nothing else:
// two system calls each way and two goroutines woken on other cores.

// BenchmarkFloorSign: one ECDSA P-256 signature of a SHA-256 digest, the
// core of an assertion.
func BenchmarkFloorSign(b *testing.B) {
	k := floorKey(b)
	cpu := cpuTime()
	for b.Loop() {
		floorSign(b, k)
	}
	reportRates(b, cpu)
}

// BenchmarkFloorUnixEchoSign: a 192-byte request over a Unix socket, one
// signature, a 320-byte reply: the sizes, in CTAPHID reports, of the
// GetAssertion of the socket benchmark and its reply.
func BenchmarkFloorUnixEchoSign(b *testing.B) {
	k := floorKey(b)
	c := floorConn(b, func(c net.Conn) {
		req, resp := make([]byte, 192), make([]byte, 320)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			floorSign(b, k)
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
	req, resp := make([]byte, 192), make([]byte, 320)
	cpu := cpuTime()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu)
}

// floorConn connects to a bare Unix socket whose one connection serve
// answers on its own goroutine.
func floorConn(b *testing.B, serve func(net.Conn)) net.Conn {
	l, err := net.Listen("unix", filepath.Join(b.TempDir(), "floor.sock"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkFloorUnixCTAP is the socket path without CTAPHID: the same
// client (ctapclient encoding the request and decoding the reply) and the
// same provider.ServeCTAP as BenchmarkCTAPClientGetAssertion, with a bare
// Unix socket between them carrying each message behind a 4-byte length.
// Against BenchmarkCTAPClientGetAssertion it is what any Unix-socket
// transport costs around this work on this machine; against
// BenchmarkSocketGetAssertion, what CTAPHID adds to that.
func BenchmarkFloorUnixCTAP(b *testing.B) {
	d, _, req := benchDaemon(b)
	nc := floorConn(b, func(c net.Conn) {
		ctx := provider.WithSession(context.Background(), uint32(1))
		var buf []byte
		for {
			msg, err := readFramed(c, buf)
			if err != nil {
				return
			}
			buf = msg
			if err := writeFramed(c, d.P.ServeCTAP(ctx, msg, nil)); err != nil {
				return
			}
		}
	})
	var reply []byte
	c := ctapclient.New(ctapclient.HandlerFunc(func(_ context.Context, msg []byte, _ func()) []byte {
		err := writeFramed(nc, msg)
		if err != nil {
			b.Fatal(err)
		}
		if reply, err = readFramed(nc, reply); err != nil {
			b.Fatal(err)
		}
		return reply
	}))
	loopGetAssertion(b, c, req)
}

// writeFramed writes msg behind its length, in one write.
func writeFramed(w io.Writer, msg []byte) error {
	_, err := w.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...))
	return err
}

// readFramed reads one length-prefixed message into buf's storage.
func readFramed(r io.Reader, buf []byte) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	buf = slices.Grow(buf[:0], int(binary.BigEndian.Uint32(n[:])))[:binary.BigEndian.Uint32(n[:])]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

func floorKey(b *testing.B) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func floorSign(b *testing.B, k *ecdsa.PrivateKey) {
	digest := sha256.Sum256([]byte("authenticatorData || clientDataHash"))
	if _, err := ecdsa.SignASN1(rand.Reader, k, digest[:]); err != nil {
		b.Error(err)
	}
}

// loopGetAssertion times GetAssertion through c, whatever carries it.
func loopGetAssertion(b *testing.B, c *ctapclient.Client, req *ctap.GetAssertionRequest) {
	ctx := context.Background()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := c.GetAssertion(ctx, req, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu)
}

func reportRates(b *testing.B, cpuBefore time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
	b.ReportMetric(float64((cpuTime()-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the user and system CPU time of the whole process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
