package daemon_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/ctapclient"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

// TestHostileClients runs a daemon in process and, while one well-behaved
// host signs in again and again, lets other hosts on ctaphid.sock send
// random bytes, hang up in the middle of a message, open 1000 connections
// at once, send 7609-byte messages and stall in the middle of one. Every
// assertion of the good host must succeed, before, during and after, and
// once the others have left, the heap in use and the number of goroutines
// must come back near where they were. Speed is not checked.
func TestHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1000 connections")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	sock := robustDaemon(t)
	good := startGoodHost(ctx, t, sock)
	good.waitFor(t, 20)
	heapBefore, goroutinesBefore := settledHeap(), runtime.NumGoroutine()

	phases := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, sock string)
	}{
		{"random-bytes", randomBytes},
		{"disconnect-mid-message", disconnectMidMessage},
		{"1000-connections", thousandConnections},
		{"7609-byte-messages", maxSizeMessages},
		{"stall", stallMidMessage},
	}
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			before := good.done.Load()
			ph.run(ctx, t, sock)
			good.waitFor(t, before+5) // the good host got through while this went on
		})
	}

	good.stop()
	if err := good.failure(); err != nil {
		t.Fatalf("the good host failed after %d assertions: %v", good.done.Load(), err)
	}
	t.Logf("the good host made %d assertions, the slowest in %v", good.done.Load(), good.slowest())
	if err := robustAssertOnce(ctx, sock); err != nil {
		t.Fatalf("a new host cannot sign in afterwards: %v", err)
	}
	checkSettles(t, heapBefore, goroutinesBefore)
}

// robustDaemon starts a daemon with the file keystore and --uv approve and
// returns its ctaphid.sock.
func robustDaemon(t *testing.T) string {
	t.Helper()
	run, err := os.MkdirTemp("", "pkr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	d, err := daemon.Start(daemon.Config{StateDir: filepath.Join(t.TempDir(), "state"), RuntimeDir: run,
		Keystore: "file", UV: "approve", UVTimeout: time.Minute, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return filepath.Join(run, daemon.CTAPHIDSocket)
}

// goodHost signs in over and over on one connection until stopped.
type goodHost struct {
	done    atomic.Int64
	quit    chan struct{}
	exited  chan struct{}
	mu      sync.Mutex
	err     error
	longest time.Duration
}

func startGoodHost(ctx context.Context, t *testing.T, sock string) *goodHost {
	t.Helper()
	hc, err := hidclient.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	cc := ctapclient.New(hc)
	id, err := robustRegister(ctx, cc)
	if err != nil {
		hc.Close()
		t.Fatalf("registering the good host's credential: %v", err)
	}
	g := &goodHost{quit: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(g.exited)
		defer hc.Close()
		for {
			select {
			case <-g.quit:
				return
			default:
			}
			began := time.Now()
			if err := robustAssert(ctx, cc, id); err != nil {
				g.mu.Lock()
				g.err = err
				g.mu.Unlock()
				return
			}
			g.mu.Lock()
			g.longest = max(g.longest, time.Since(began))
			g.mu.Unlock()
			g.done.Add(1)
		}
	}()
	t.Cleanup(g.stop)
	return g
}

// waitFor waits until the good host has made n assertions in all.
func (g *goodHost) waitFor(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.done.Load() < n {
		if err := g.failure(); err != nil {
			t.Fatalf("the good host failed: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the good host made %d assertions in 10 s, want %d", g.done.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (g *goodHost) stop() {
	select {
	case <-g.quit:
	default:
		close(g.quit)
	}
	<-g.exited
}

func (g *goodHost) failure() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *goodHost) slowest() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.longest
}

func robustRegister(ctx context.Context, cc *ctapclient.Client) ([]byte, error) {
	resp, err := cc.MakeCredential(ctx, &ctap.MakeCredentialRequest{
		ClientDataHash:   make([]byte, 32),
		RP:               &ctap.RPEntity{ID: "robust.example", Name: "Robust"},
		User:             &ctap.UserEntity{ID: []byte("good-host"), Name: "good", DisplayName: "Good"},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.PublicKeyType, Alg: -7}},
		Options:          map[string]bool{"rk": true, "uv": true},
	}, nil)
	if err != nil {
		return nil, err
	}
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil || ad.Attested == nil {
		return nil, fmt.Errorf("no attested credential data (%v)", err)
	}
	return ad.Attested.CredentialID, nil
}

func robustAssert(ctx context.Context, cc *ctapclient.Client, id []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := &ctap.GetAssertionRequest{RPID: "robust.example", ClientDataHash: make([]byte, 32),
		Options: map[string]bool{"uv": true}}
	if id != nil {
		req.AllowList = []ctap.CredentialDescriptor{{Type: ctap.PublicKeyType, ID: id}}
	}
	resp, err := cc.GetAssertion(ctx, req, nil)
	if err == nil && len(resp.Signature) == 0 {
		err = errors.New("an assertion without a signature")
	}
	return err
}

// robustAssertOnce signs in with the discoverable credential on a new
// connection.
func robustAssertOnce(ctx context.Context, sock string) error {
	hc, err := hidclient.Dial(sock)
	if err != nil {
		return err
	}
	defer hc.Close()
	return robustAssert(ctx, ctapclient.New(hc), nil)
}

// rawChannel connects and allocates a channel, keeping the raw connection
// for writes that no well-behaved client would make.
func rawChannel(t *testing.T, sock string) (net.Conn, uint32) {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hidclient.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return nc, hc.CID()
}

// randomBytes: connections that write random bytes, of lengths that are
// and are not whole reports, and then hang up, or stay without reading.
func randomBytes(ctx context.Context, t *testing.T, sock string) {
	var keep []net.Conn
	defer func() {
		for _, c := range keep {
			c.Close()
		}
	}()
	for i := range 60 {
		nc, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		n := mrand.IntN(40_000) + 1
		if i%2 == 0 {
			n = n / ctaphid.ReportSize * ctaphid.ReportSize
		}
		garbage := make([]byte, n)
		rand.Read(garbage)
		_ = nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = nc.Write(garbage) // the daemon may drop us before it has read it all
		if i%3 == 0 {
			keep = append(keep, nc) // never read what the daemon answers
			continue
		}
		nc.Close()
	}
	time.Sleep(100 * time.Millisecond)
}

// disconnectMidMessage: hosts that start a 7609-byte message and hang up
// after some of its packets.
func disconnectMidMessage(ctx context.Context, t *testing.T, sock string) {
	msg := make([]byte, ctaphid.MaxMessageSize)
	rand.Read(msg)
	for i := range 40 {
		nc, cid := rawChannel(t, sock)
		cmd := ctaphid.CmdCBOR
		if i%2 == 1 {
			cmd = ctaphid.CmdPing
		}
		reports, err := ctaphid.Fragment(cid, cmd, msg)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, r := range reports[:1+mrand.IntN(len(reports)-1)] {
			buf.Write(r[:])
		}
		if i%4 == 3 {
			buf.Write(make([]byte, mrand.IntN(ctaphid.ReportSize))) // and half a report
		}
		_, _ = nc.Write(buf.Bytes())
		nc.Close()
	}
}

// thousandConnections: 1000 hosts connect and allocate a channel each, and
// stay while the good host goes on.
func thousandConnections(ctx context.Context, t *testing.T, sock string) {
	const n = 1000
	raiseFileLimit(t, 2*n+256)
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			nc, err := net.Dial("unix", sock)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = nc
			if _, err := hidclient.New(nc); err != nil {
				errs <- fmt.Errorf("INIT on connection %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("%d connections: %v", n, err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("with %d connections open: %d goroutines, %d MiB heap in use", n, runtime.NumGoroutine(), ms.HeapInuse>>20)
}

// raiseFileLimit makes room for want open files, or skips.
func raiseFileLimit(t *testing.T, want uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot read RLIMIT_NOFILE: %v", err)
	}
	if lim.Cur >= want {
		return
	}
	if lim.Max < want {
		t.Skipf("RLIMIT_NOFILE allows %d open files (hard limit %d), and 1000 connections need %d: raise it with ulimit -n", lim.Cur, lim.Max, want)
	}
	saved := lim
	lim.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", want, err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved) })
}

// maxSizeMessages: hosts send 7609-byte PINGs, which must come back whole,
// and 7609-byte CBOR messages, which must be answered with an error.
func maxSizeMessages(ctx context.Context, t *testing.T, sock string) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			hc, err := hidclient.Dial(sock)
			if err != nil {
				t.Error(err)
				return
			}
			defer hc.Close()
			msg := make([]byte, ctaphid.MaxMessageSize)
			rand.Read(msg)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if i%2 == 0 {
				echo, err := hc.Ping(cctx, msg)
				if err != nil || !bytes.Equal(echo, msg) {
					t.Errorf("7609-byte PING: %d bytes back, %v", len(echo), err)
				}
				return
			}
			msg[0] = byte(ctap.CmdGetAssertion)
			reply, err := hc.CBOR(cctx, msg, nil)
			if err != nil || len(reply) == 0 || reply[0] == byte(ctap.StatusOK) {
				t.Errorf("7609 bytes of CBOR garbage: reply %x, %v; want an error status", reply[:min(len(reply), 1)], err)
			}
		})
	}
	wg.Wait()
}

// stallMidMessage: hosts announce a 7609-byte message and send only its
// first packet, or half a report; the daemon must time the message out
// (ERR_MSG_TIMEOUT) without holding anyone else up.
func stallMidMessage(ctx context.Context, t *testing.T, sock string) {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 10 {
		nc, cid := rawChannel(t, sock)
		conns = append(conns, nc)
		first := ctaphid.InitReport(cid, ctaphid.CmdCBOR, ctaphid.MaxMessageSize, make([]byte, ctaphid.InitDataSize))
		if _, err := nc.Write(first[:]); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		nc, cid := rawChannel(t, sock)
		conns = append(conns, nc)
		r := ctaphid.InitReport(cid, ctaphid.CmdPing, 8, nil)
		if _, err := nc.Write(r[:ctaphid.ReportSize/2]); err != nil { // half a report, never the rest
			t.Fatal(err)
		}
	}
	for _, nc := range conns[:10] {
		var r ctaphid.Report
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(r[:]); err != nil {
			t.Fatalf("no answer to a stalled message: %v", err)
		}
		if r.Command() != ctaphid.CmdError || r.Data()[0] != byte(ctaphid.ErrMsgTimeout) {
			t.Errorf("a stalled message was answered with %s %x, want ERROR ERR_MSG_TIMEOUT", r.Command(), r.Data()[:1])
		}
	}
}

// settledHeap is the heap in use after garbage collection.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// checkSettles waits up to 10 s for the heap in use and the goroutines to
// come back near their levels before the hostile hosts came.
func checkSettles(t *testing.T, heapBefore uint64, goroutinesBefore int) {
	t.Helper()
	const heapSlack, goroutineSlack = 8 << 20, 10
	deadline := time.Now().Add(10 * time.Second)
	for {
		heap, g := settledHeap(), runtime.NumGoroutine()
		if heap <= heapBefore+heapSlack && g <= goroutinesBefore+goroutineSlack {
			t.Logf("heap in use %d KiB before, %d KiB after; goroutines %d before, %d after", heapBefore>>10, heap>>10, goroutinesBefore, g)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after the hostile hosts left: heap in use %d KiB (was %d KiB), %d goroutines (were %d)\n%s",
				heap>>10, heapBefore>>10, g, goroutinesBefore, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
