package ctaphid_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctaphid"
)

func TestInitResponse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		handler  ctaphid.Handler
		opts     []ctaphid.Option
		version  [3]byte
		wantCaps byte
	}{
		{"plain handler", echo, nil, [3]byte{1, 0, 0}, ctaphid.CapCBOR | ctaphid.CapNMSG},
		{"winker", &winker{handlerFunc: echo}, []ctaphid.Option{ctaphid.WithDeviceVersion(3, 4, 5)},
			[3]byte{3, 4, 5}, ctaphid.CapWink | ctaphid.CapCBOR | ctaphid.CapNMSG},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startServer(t, tc.handler, tc.opts...).raw(t)
			nonce := randomBytes(8)
			c.sendInit(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, nonce)
			cid, cmd, resp := c.recvMsg()
			if cid != ctaphid.BroadcastCID || cmd != ctaphid.CmdInit || len(resp) != 17 {
				t.Fatalf("got cid=%08x %s % x", cid, cmd, resp)
			}
			newCID := binary.BigEndian.Uint32(resp[8:12])
			want := append(append(nonce, resp[8:12]...), 2, tc.version[0], tc.version[1], tc.version[2], tc.wantCaps)
			if !bytes.Equal(resp, want) || newCID == 0 || newCID == ctaphid.BroadcastCID {
				t.Fatalf("INIT response % x, want % x with a usable CID", resp, want)
			}
			c.ping(newCID)
		})
	}
}

// TestResync: INIT on an allocated channel keeps the channel and abandons
// what was under way on it (CTAP 2.1 §11.2.5.3).
func TestResync(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts := startServer(t, g)
	c := ts.raw(t)
	cid := c.allocate()
	resync := func() {
		t.Helper()
		nonce := randomBytes(8)
		c.sendInit(cid, ctaphid.CmdInit, 8, nonce)
		gotCID, cmd, resp := c.recvMsg()
		if gotCID != cid || cmd != ctaphid.CmdInit || !bytes.Equal(resp[:8], nonce) ||
			binary.BigEndian.Uint32(resp[8:12]) != cid {
			t.Fatalf("resync answered cid=%08x %s % x", gotCID, cmd, resp)
		}
	}
	resync()
	c.sendInit(cid, ctaphid.CmdPing, 1000, nil) // mid-message
	resync()
	c.sendMsg(cid, ctaphid.CmdCBOR, []byte{4}) // mid-request
	g.waitStarted(t)
	resync()
	c.ping(cid)
	// Neither the abandoned message's timeout nor the request's reply
	// comes.
	c.expectSilence(800 * time.Millisecond)
	if g.cancelled.Load() != 1 {
		t.Errorf("the abandoned request was not cancelled")
	}
}

// TestRequestAfterStuckHandler: after INIT abandons a request whose handler
// ignores its context, the next request on that connection is served at
// once, not after the stuck handler, and the stuck reply never comes.
func TestRequestAfterStuckHandler(t *testing.T) {
	t.Parallel()
	stuck, started := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h := handlerFunc(func(_ context.Context, req []byte, _ func()) []byte {
		if calls.Add(1) == 1 {
			close(started)
			<-stuck
			return []byte{0x7F}
		}
		return req
	})
	ts := startServer(t, h)
	c := ts.raw(t)
	cid := c.allocate()
	c.sendMsg(cid, ctaphid.CmdCBOR, []byte{1})
	<-started
	c.sendInit(cid, ctaphid.CmdInit, 8, randomBytes(8))
	if _, cmd, _ := c.recvMsg(); cmd != ctaphid.CmdInit {
		t.Fatalf("resync answered %s", cmd)
	}
	for _, req := range [][]byte{{2}, {3}} {
		c.sendMsg(cid, ctaphid.CmdCBOR, req)
		c.expect(cid, ctaphid.CmdCBOR, req)
	}
	close(stuck)
	c.expectSilence(200 * time.Millisecond)
	c.sendMsg(cid, ctaphid.CmdCBOR, []byte{4})
	c.expect(cid, ctaphid.CmdCBOR, []byte{4})
}

// TestCBORReply pins the command byte of the reply to CTAPHID_CBOR, a pitfall
// of other authenticators.
func TestCBORReply(t *testing.T) {
	t.Parallel()
	c := startServer(t, echo).raw(t)
	cid := c.allocate()
	req := []byte{0x04}
	c.sendMsg(cid, ctaphid.CmdCBOR, req)
	r := c.recv()
	if r.CID() != cid || !r.IsInit() || r.Command() != ctaphid.CmdCBOR || r[4] != 0x90 {
		t.Fatalf("reply header % x, want cid %08x and command 0x90", r[:7], cid)
	}
}

func TestBadReplies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		handler handlerFunc
	}{
		{"panic", func(context.Context, []byte, func()) []byte { panic("handler bug") }},
		{"empty", func(context.Context, []byte, func()) []byte { return nil }},
		{"too long", func(context.Context, []byte, func()) []byte { return make([]byte, ctaphid.MaxMessageSize+1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startServer(t, tc.handler).raw(t)
			cid := c.allocate()
			c.sendMsg(cid, ctaphid.CmdCBOR, []byte{4})
			c.expectError(cid, ctaphid.ErrOther)
			c.ping(cid)
		})
	}
}

func TestWink(t *testing.T) {
	t.Parallel()
	w := &winker{handlerFunc: echo}
	c := startServer(t, w).raw(t)
	cid := c.allocate()
	c.sendInit(cid, ctaphid.CmdWink, 0, nil)
	c.expect(cid, ctaphid.CmdWink, nil)
	deadline := time.Now().Add(patience)
	for w.winks.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if w.winks.Load() != 1 {
		t.Errorf("Wink called %d times, want 1", w.winks.Load())
	}

	plain := startServer(t, echo).raw(t)
	cid = plain.allocate()
	plain.sendInit(cid, ctaphid.CmdWink, 0, nil)
	plain.expectError(cid, ctaphid.ErrInvalidCmd)
}

// TestCancelIdle: CANCEL is never answered, not even when nothing runs.
func TestCancelIdle(t *testing.T) {
	t.Parallel()
	c := startServer(t, echo).raw(t)
	cid := c.allocate()
	c.sendInit(cid, ctaphid.CmdCancel, 0, nil)
	c.ping(cid) // the first reply is the PING's
}

// TestInterleavedChannels: channels of one connection take turns; a busy
// channel holds the others off (CTAP 2.1 §11.2.5.1) until it is done.
func TestInterleavedChannels(t *testing.T) {
	t.Parallel()
	g := newGate()
	c := startServer(t, g).raw(t)
	a, b := c.allocate(), c.allocate()
	if a == b {
		t.Fatalf("two INITs gave the same channel %08x", a)
	}
	for i := range 10 {
		da, db := randomBytes(10+i*50), randomBytes(20+i*60)
		c.sendMsg(a, ctaphid.CmdPing, da)
		c.sendMsg(b, ctaphid.CmdPing, db)
		c.expect(a, ctaphid.CmdPing, da)
		c.expect(b, ctaphid.CmdPing, db)
	}
	c.sendMsg(a, ctaphid.CmdCBOR, []byte{1})
	g.waitStarted(t)
	c.sendInit(b, ctaphid.CmdPing, 1, nil)
	c.expectError(b, ctaphid.ErrChannelBusy)
	g.open()
	c.expect(a, ctaphid.CmdCBOR, []byte{0, 1})
	c.ping(b)
}

// TestChannelsAcrossConnections: channel IDs are unique across connections,
// and a busy connection blocks no other.
func TestChannelsAcrossConnections(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts := startServer(t, g)
	seen := make(map[uint32]bool)
	var conns []*rawConn
	for range 4 {
		c := ts.raw(t)
		conns = append(conns, c)
		for range 25 {
			cid := c.allocate()
			if seen[cid] || cid == 0 || cid == ctaphid.BroadcastCID {
				t.Fatalf("channel %08x allocated twice or reserved", cid)
			}
			seen[cid] = true
		}
	}
	busy := conns[0]
	cid := busy.allocate()
	busy.sendMsg(cid, ctaphid.CmdCBOR, []byte{7})
	g.waitStarted(t)
	other := conns[1]
	other.ping(other.allocate())
	cl := ts.client(t)
	if _, err := cl.Ping(context.Background(), []byte("independent")); err != nil {
		t.Fatalf("another connection blocked: %v", err)
	}
	g.open()
	busy.expect(cid, ctaphid.CmdCBOR, []byte{0, 7})
}

// TestMaxMessage: 7609 bytes travel both ways with PING and CBOR; 7610 is
// refused by the client library and, sent raw, by the server.
func TestMaxMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echo)
	cl := ts.client(t)
	ctx := context.Background()
	big := randomBytes(ctaphid.MaxMessageSize)
	if got, err := cl.Ping(ctx, big); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("PING of %d bytes: err %v, echo equal %v", len(big), err, bytes.Equal(got, big))
	}
	if got, err := cl.CBOR(ctx, big, nil); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("CBOR of %d bytes: err %v, echo equal %v", len(big), err, bytes.Equal(got, big))
	}
	if _, err := cl.Ping(ctx, randomBytes(ctaphid.MaxMessageSize+1)); !errors.Is(err, ctaphid.ErrInvalidLen) {
		t.Fatalf("PING of 7610 bytes: err %v, want ErrInvalidLen", err)
	}
	c := ts.raw(t)
	cid := c.allocate()
	c.sendInit(cid, ctaphid.CmdPing, ctaphid.MaxMessageSize+1, nil)
	c.expectError(cid, ctaphid.ErrInvalidLen)
}

// TestKeepalive: a slow handler produces KEEPALIVE PROCESSING, then
// UPNEEDED once it calls userNeeded (CTAP 2.1 §11.2.9.1.7).
func TestKeepalive(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		statuses []byte
	)
	seen := func(s byte) bool {
		mu.Lock()
		defer mu.Unlock()
		return bytes.IndexByte(statuses, s) >= 0
	}
	waitFor := func(s byte) {
		deadline := time.Now().Add(patience)
		for !seen(s) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	h := handlerFunc(func(_ context.Context, req []byte, userNeeded func()) []byte {
		time.Sleep(350 * time.Millisecond)
		waitFor(ctaphid.StatusProcessing)
		userNeeded()
		waitFor(ctaphid.StatusUPNeeded)
		return []byte{0x00}
	})
	cl := startServer(t, h).client(t)
	resp, err := cl.CBOR(context.Background(), []byte{1}, func(s byte) {
		mu.Lock()
		statuses = append(statuses, s)
		mu.Unlock()
	})
	if err != nil || !bytes.Equal(resp, []byte{0}) {
		t.Fatalf("CBOR: % x, %v", resp, err)
	}
	mu.Lock()
	defer mu.Unlock()
	// PROCESSING first, then UPNEEDED and nothing else.
	i := bytes.IndexByte(statuses, ctaphid.StatusUPNeeded)
	if i < 1 || bytes.Count(statuses[:i], []byte{ctaphid.StatusProcessing}) != i ||
		bytes.Count(statuses[i:], []byte{ctaphid.StatusUPNeeded}) != len(statuses)-i {
		t.Fatalf("keepalive statuses % x, want 01… then 02…", statuses)
	}
}

// TestCancel: CTAPHID_CANCEL cancels the handler's context; the reply it
// then gives, 0x2D, comes back as a CBOR reply (CTAP 2.1 §11.2.9.1.5).
func TestCancel(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts := startServer(t, g)

	c := ts.raw(t)
	cid := c.allocate()
	c.sendMsg(cid, ctaphid.CmdCBOR, []byte{4})
	g.waitStarted(t)
	c.sendInit(cid, ctaphid.CmdCancel, 0, nil)
	c.expect(cid, ctaphid.CmdCBOR, []byte{0x2D})

	cl := ts.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-g.started:
		case <-time.After(patience):
		}
		cancel()
	}()
	resp, err := cl.CBOR(ctx, []byte{4}, nil)
	if err != nil || !bytes.Equal(resp, []byte{0x2D}) {
		t.Fatalf("cancelled CBOR: % x, %v; want 2d", resp, err)
	}
	if n := g.cancelled.Load(); n != 2 {
		t.Fatalf("handler saw %d cancellations, want 2", n)
	}
	if _, err := cl.Ping(context.Background(), []byte("after")); err != nil {
		t.Fatalf("client unusable after a cancelled request: %v", err)
	}
}

// TestStalledClient: a client that announces 1000 bytes and sends nothing
// more gets ERR_MSG_TIMEOUT, while another client is served meanwhile.
func TestStalledClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echo)
	stalled := ts.raw(t)
	cid := stalled.allocate()
	start := time.Now()
	stalled.sendInit(cid, ctaphid.CmdPing, 1000, nil)

	cl := ts.client(t)
	for i := range 20 {
		data := randomBytes(100 + i)
		if got, err := cl.Ping(context.Background(), data); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the other client was not served: %v", err)
		}
		if _, err := cl.CBOR(context.Background(), data, nil); err != nil {
			t.Fatalf("the other client was not served: %v", err)
		}
	}
	stalled.expectError(cid, ctaphid.ErrMsgTimeout)
	// A lower bound only: a timer never fires early.
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Fatalf("timed out after %v, want about 500ms", waited)
	}
}

// TestShutdown: Shutdown cancels the requests in flight, delivers their
// replies, and returns.
func TestShutdown(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts := startServer(t, g)
	c := ts.raw(t)
	cid := c.allocate()
	c.sendMsg(cid, ctaphid.CmdCBOR, []byte{4})
	g.waitStarted(t)
	ts.shutdown(t)
	c.expect(cid, ctaphid.CmdCBOR, []byte{0x2D})
	if g.cancelled.Load() != 1 {
		t.Fatal("the request in flight was not cancelled")
	}
	var b [1]byte
	if _, err := c.nc.Read(b[:]); err == nil {
		t.Fatal("the connection is still open after Shutdown")
	}
}

// TestShutdownDeadline: a handler that ignores its context cannot hold
// Shutdown past its own context.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	h := handlerFunc(func(context.Context, []byte, func()) []byte {
		close(started)
		<-release
		return []byte{0}
	})
	ts := startServer(t, h)
	c := ts.raw(t)
	cid := c.allocate()
	c.sendMsg(cid, ctaphid.CmdCBOR, []byte{4})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	close(release)
}

// TestSlowReader: a connection that sends without reading is dropped; the
// others go on.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echo)
	slow := ts.raw(t)
	cid := slow.allocate()
	big := randomBytes(ctaphid.MaxMessageSize)
	reports, _ := ctaphid.Fragment(cid, ctaphid.CmdPing, big)
	var msg []byte
	for _, r := range reports {
		msg = append(msg, r[:]...)
	}
	dropped := false
	for range 2000 {
		_ = slow.nc.SetWriteDeadline(time.Now().Add(patience))
		if _, err := slow.nc.Write(msg); err != nil {
			dropped = true
			break
		}
	}
	if !dropped {
		t.Fatal("a connection that never reads was not dropped")
	}
	cl := ts.client(t)
	if _, err := cl.Ping(context.Background(), []byte("still here")); err != nil {
		t.Fatalf("another connection suffered: %v", err)
	}
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echo, ctaphid.WithMaxConns(2))
	a, b := ts.raw(t), ts.raw(t)
	a.ping(a.allocate())
	b.ping(b.allocate())
	if served(ts.raw(t)) {
		t.Fatal("a connection over the limit was served")
	}
	a.nc.Close()
	deadline := time.Now().Add(patience)
	for !served(ts.raw(t)) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's slot was never freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// served reports whether c gets an answer to INIT.
func served(c *rawConn) bool {
	r := ctaphid.InitReport(ctaphid.BroadcastCID, ctaphid.CmdInit, 8, randomBytes(8))
	if _, err := c.nc.Write(r[:]); err != nil {
		return false
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(patience))
	_, err := c.nc.Read(r[:])
	return err == nil
}
