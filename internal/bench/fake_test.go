package bench_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// verdict is what a fakeDaemon does with one CTAPHID_CBOR request.
type verdict int

const (
	answerOK     verdict = iota // reply with status 0
	answerSlowly                // KEEPALIVE, another channel's packet, then a long reply in pieces
	answerBusy                  // CTAPHID_ERROR ERR_CHANNEL_BUSY
	hang                        // never reply, and go on reading
	hangUp                      // close the connection
)

// fakeDaemon is a CTAPHID authenticator on a Unix socket that allocates a
// channel to every connection and then asks decide what to do with the
// n-th CBOR request (from 0) of its c-th connection (from 0).
type fakeDaemon struct {
	sock   string
	decide func(c, n int) verdict
	hung   chan struct{} // one send per request left unanswered

	mu      sync.Mutex
	conns   []net.Conn
	closed  int // connections the client closed
	cancels int // CTAPHID_CANCEL packets received
}

func startFakeDaemon(t *testing.T, decide func(c, n int) verdict) *fakeDaemon {
	t.Helper()
	f := &fakeDaemon{sock: filepath.Join(shortDir(t), "s"), decide: decide, hung: make(chan struct{}, 1024)}
	l, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		f.mu.Lock()
		for _, nc := range f.conns {
			nc.Close()
		}
		f.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			c := len(f.conns)
			f.conns = append(f.conns, nc)
			f.mu.Unlock()
			wg.Go(func() { f.serve(nc, c) })
		}
	})
	return f
}

// serve answers one connection until the client closes it.
func (f *fakeDaemon) serve(nc net.Conn, c int) {
	defer nc.Close()
	cid := uint32(c + 1)
	for n := 0; ; {
		var r ctaphid.Report
		if _, err := io.ReadFull(nc, r[:]); err != nil {
			f.count(func() { f.closed++ }, err)
			return
		}
		if !r.IsInit() {
			continue // the rest of a request whose start was read
		}
		var err error
		switch r.Command() {
		case ctaphid.CmdInit:
			resp := make([]byte, ctaphid.InitResponseSize)
			copy(resp, r.Data()[:ctaphid.InitNonceSize])
			binary.BigEndian.PutUint32(resp[8:], cid)
			resp[12] = 2 // CTAPHID protocol version
			err = reply(nc, r.CID(), ctaphid.CmdInit, resp)
		case ctaphid.CmdCancel:
			f.count(func() { f.cancels++ }, nil)
		case ctaphid.CmdCBOR:
			switch f.decide(c, n) {
			case answerOK:
				err = reply(nc, cid, ctaphid.CmdCBOR, []byte{0})
			case answerSlowly:
				err = replySlowly(nc, cid)
			case answerBusy:
				err = reply(nc, cid, ctaphid.CmdError, []byte{byte(ctaphid.ErrChannelBusy)})
			case hang:
				f.hung <- struct{}{}
			case hangUp:
				return
			}
			n++
		}
		if err != nil {
			return
		}
	}
}

// count runs inc under f.mu if err is the client closing the connection,
// or is nil.
func (f *fakeDaemon) count(inc func(), err error) {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	inc()
}

func reply(nc net.Conn, cid uint32, cmd ctaphid.Command, msg []byte) error {
	b, err := ctaphid.AppendMessage(nil, cid, cmd, msg)
	if err != nil {
		return err
	}
	_, err = nc.Write(b)
	return err
}

// replySlowly sends a KEEPALIVE, a packet of another channel, and a reply
// of status 0 in four packets, in pieces that split packets.
func replySlowly(nc net.Conn, cid uint32) error {
	ka := ctaphid.InitReport(cid, ctaphid.CmdKeepalive, 1, []byte{ctaphid.StatusProcessing})
	other := ctaphid.InitReport(cid+1000, ctaphid.CmdCBOR, 1, []byte{0x2F})
	b := append(ka[:], other[:]...)
	b, err := ctaphid.AppendMessage(b, cid, ctaphid.CmdCBOR, make([]byte, 200))
	if err != nil {
		return err
	}
	for len(b) > 0 {
		n := min(len(b), 50)
		if _, err := nc.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		time.Sleep(time.Millisecond)
	}
	return nil
}

// stats returns how many connections were made and closed by the client,
// and how many CANCELs arrived.
func (f *fakeDaemon) stats() (conns, closed, cancels int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns), f.closed, f.cancels
}
