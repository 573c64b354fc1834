package ctaphid_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

// patience bounds every wait in these tests. It is a generous bound, never
// a speed requirement.
const patience = 10 * time.Second

// handlerFunc adapts a function to ctaphid.Handler.
type handlerFunc func(ctx context.Context, req []byte, userNeeded func()) []byte

func (f handlerFunc) ServeCTAP(ctx context.Context, req []byte, userNeeded func()) []byte {
	return f(ctx, req, userNeeded)
}

var _ ctaphid.Handler = handlerFunc(nil)

// echo answers every CBOR message with itself.
var echo = handlerFunc(func(_ context.Context, req []byte, _ func()) []byte { return req })

// winker is a handler that can wink.
type winker struct {
	handlerFunc
	winks atomic.Int32
}

func (w *winker) Wink() { w.winks.Add(1) }

var _ ctaphid.Winker = (*winker)(nil)

// gate is a handler that blocks until released (answering 0x00 ‖ req) or
// cancelled (answering 0x2D, CTAP2_ERR_KEEPALIVE_CANCEL).
type gate struct {
	started   chan struct{} // receives once per request
	release   chan struct{}
	once      sync.Once
	cancelled atomic.Int32
}

func newGate() *gate {
	return &gate{started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *gate) ServeCTAP(ctx context.Context, req []byte, _ func()) []byte {
	g.started <- struct{}{}
	select {
	case <-ctx.Done():
		g.cancelled.Add(1)
		return []byte{0x2D}
	case <-g.release:
		return append([]byte{0x00}, req...)
	}
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) waitStarted(t testing.TB) {
	t.Helper()
	select {
	case <-g.started:
	case <-time.After(patience):
		t.Fatal("handler never started")
	}
}

// testServer is a Server on a Unix socket in a fresh temporary folder.
type testServer struct {
	srv    *ctaphid.Server
	path   string
	served chan error
}

func startServer(t testing.TB, h ctaphid.Handler, opts ...ctaphid.Option) *testServer {
	t.Helper()
	ts := &testServer{path: filepath.Join(shortTempDir(t), "ctaphid.sock"), served: make(chan error, 1)}
	l, err := ctaphid.ListenUnix(ts.path)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = ctaphid.NewServer(h, opts...)
	go func() { ts.served <- ts.srv.Serve(l) }()
	t.Cleanup(func() { ts.shutdown(t) })
	return ts
}

// shortTempDir is a fresh folder with a short path: socket paths are
// limited to about 100 bytes, and t.TempDir's can be longer.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "phid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// shutdown stops the server and checks that Serve returned.
func (ts *testServer) shutdown(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-ts.served:
		if !errors.Is(err, ctaphid.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		ts.served <- err // for a second shutdown
	case <-time.After(patience):
		t.Error("Serve did not return")
	}
}

func (ts *testServer) client(t testing.TB) *hidclient.Client {
	t.Helper()
	c, err := hidclient.Dial(ts.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (ts *testServer) raw(t testing.TB) *rawConn {
	t.Helper()
	nc, err := net.Dial("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

// rawConn speaks reports, for the tests that send what no client would.
type rawConn struct {
	t  testing.TB
	nc net.Conn
}

func (c *rawConn) send(r ctaphid.Report) {
	c.t.Helper()
	if _, err := c.nc.Write(r[:]); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) sendInit(cid uint32, cmd ctaphid.Command, bcnt int, data []byte) {
	c.t.Helper()
	c.send(ctaphid.InitReport(cid, cmd, bcnt, data))
}

func (c *rawConn) sendCont(cid uint32, seq byte, data []byte) {
	c.t.Helper()
	c.send(ctaphid.ContReport(cid, seq, data))
}

func (c *rawConn) sendMsg(cid uint32, cmd ctaphid.Command, data []byte) {
	c.t.Helper()
	reports, err := ctaphid.Fragment(cid, cmd, data)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, r := range reports {
		c.send(r)
	}
}

// recv reads one report, failing the test after patience.
func (c *rawConn) recv() ctaphid.Report {
	c.t.Helper()
	return c.recvBy(time.Now().Add(patience))
}

// recvBy reads one report, failing the test at deadline.
func (c *rawConn) recvBy(deadline time.Time) ctaphid.Report {
	c.t.Helper()
	var r ctaphid.Report
	_ = c.nc.SetReadDeadline(deadline)
	if _, err := io.ReadFull(c.nc, r[:]); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return r
}

// recvMsg reads one whole message, skipping KEEPALIVEs, within patience.
func (c *rawConn) recvMsg() (cid uint32, cmd ctaphid.Command, data []byte) {
	c.t.Helper()
	deadline := time.Now().Add(patience)
	r := c.recvBy(deadline)
	for r.IsInit() && r.Command() == ctaphid.CmdKeepalive {
		r = c.recvBy(deadline)
	}
	if !r.IsInit() {
		c.t.Fatalf("got a continuation packet, want an init packet")
	}
	n := r.Length()
	data = append(data, r.Data()[:min(n, ctaphid.InitDataSize)]...)
	for seq := byte(0); len(data) < n; seq++ {
		next := c.recvBy(deadline)
		if next.CID() != r.CID() || next.IsInit() || next.Seq() != seq {
			c.t.Fatalf("bad continuation cid=%08x seq=%d", next.CID(), next.Seq())
		}
		data = append(data, next.Data()[:min(n-len(data), ctaphid.ContDataSize)]...)
	}
	return r.CID(), r.Command(), data
}

// expect reads one message and checks where it came and what it is.
func (c *rawConn) expect(cid uint32, cmd ctaphid.Command, data []byte) {
	c.t.Helper()
	gotCID, gotCmd, got := c.recvMsg()
	if gotCID != cid || gotCmd != cmd || !bytes.Equal(got, data) {
		c.t.Fatalf("got cid=%08x %s % x, want cid=%08x %s % x", gotCID, gotCmd, got, cid, cmd, data)
	}
}

func (c *rawConn) expectError(cid uint32, code ctaphid.ErrorCode) {
	c.t.Helper()
	c.expect(cid, ctaphid.CmdError, []byte{byte(code)})
}

// expectSilence checks that nothing arrives for d.
func (c *rawConn) expectSilence(d time.Duration) {
	c.t.Helper()
	var r ctaphid.Report
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	if n, err := c.nc.Read(r[:]); err == nil {
		c.t.Fatalf("got %d unexpected bytes: % x", n, r[:n])
	}
}

// allocate runs CTAPHID_INIT on the broadcast channel.
func (c *rawConn) allocate() uint32 {
	c.t.Helper()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	c.sendInit(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, nonce)
	cid, cmd, resp := c.recvMsg()
	if cid != ctaphid.BroadcastCID || cmd != ctaphid.CmdInit || len(resp) != 17 || !bytes.Equal(resp[:8], nonce) {
		c.t.Fatalf("bad INIT response cid=%08x %s % x", cid, cmd, resp)
	}
	return binary.BigEndian.Uint32(resp[8:12])
}

// ping checks that cid echoes a PING.
func (c *rawConn) ping(cid uint32) {
	c.t.Helper()
	data := []byte("ping on a healthy channel")
	c.sendMsg(cid, ctaphid.CmdPing, data)
	c.expect(cid, ctaphid.CmdPing, data)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
