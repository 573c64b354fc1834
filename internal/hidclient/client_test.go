package hidclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctaphid"
)

const patience = 10 * time.Second

const testCID uint32 = 0x01020304

// fakeDevice is an authenticator that follows a script, on one end of a
// net.Pipe.
type fakeDevice struct {
	nc   net.Conn
	errs chan error // the script's outcome
}

// startFake runs script against a new client and returns the client.
func startFake(t *testing.T, script func(f *fakeDevice) error) (*Client, *fakeDevice) {
	t.Helper()
	host, dev := net.Pipe()
	f := &fakeDevice{nc: dev, errs: make(chan error, 1)}
	t.Cleanup(func() { host.Close(); dev.Close() })
	go func() { f.errs <- script(f) }()
	c, err := New(host)
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

// wait returns the script's outcome.
func (f *fakeDevice) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-f.errs:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("script did not finish")
	}
}

func (f *fakeDevice) read() (ctaphid.Report, error) {
	var r ctaphid.Report
	_ = f.nc.SetReadDeadline(time.Now().Add(patience))
	_, err := io.ReadFull(f.nc, r[:])
	return r, err
}

func (f *fakeDevice) write(reports ...ctaphid.Report) error {
	for _, r := range reports {
		if _, err := f.nc.Write(r[:]); err != nil {
			return err
		}
	}
	return nil
}

// reply sends a whole message.
func (f *fakeDevice) reply(cid uint32, cmd ctaphid.Command, msg []byte) error {
	reports, err := ctaphid.Fragment(cid, cmd, msg)
	if err != nil {
		return err
	}
	return f.write(reports...)
}

// init answers the client's INIT with testCID, after an INIT response for
// somebody else's nonce.
func (f *fakeDevice) init() error {
	r, err := f.read()
	if err != nil {
		return err
	}
	if r.CID() != ctaphid.BroadcastCID || r.Command() != ctaphid.CmdInit || r.Length() != 8 {
		return errors.New("first packet is not a broadcast INIT")
	}
	resp := make([]byte, 17)
	copy(resp[8:], []byte{0, 0, 0, 9, 2, 1, 2, 3, ctaphid.CapCBOR | ctaphid.CapNMSG})
	if err := f.reply(ctaphid.BroadcastCID, ctaphid.CmdInit, resp); err != nil {
		return err
	}
	copy(resp, r.Data()[:8])
	binary.BigEndian.PutUint32(resp[8:], testCID)
	return f.reply(ctaphid.BroadcastCID, ctaphid.CmdInit, resp)
}

// readMsg reads a whole request.
func (f *fakeDevice) readMsg() (ctaphid.Command, []byte, error) {
	r, err := f.read()
	if err != nil {
		return 0, nil, err
	}
	n, cmd := r.Length(), r.Command()
	msg := append([]byte(nil), r.Data()[:min(n, ctaphid.InitDataSize)]...)
	for len(msg) < n {
		if r, err = f.read(); err != nil {
			return 0, nil, err
		}
		msg = append(msg, r.Data()[:min(n-len(msg), ctaphid.ContDataSize)]...)
	}
	return cmd, msg, nil
}

func TestInitSkipsOtherNonces(t *testing.T) {
	t.Parallel()
	c, f := startFake(t, (*fakeDevice).init)
	f.wait(t)
	want := Info{CID: testCID, ProtocolVersion: 2, Major: 1, Minor: 2, Build: 3, Capabilities: ctaphid.CapCBOR | ctaphid.CapNMSG}
	if c.Info() != want || c.CID() != testCID {
		t.Fatalf("Info() = %+v, want %+v", c.Info(), want)
	}
}

// TestReceiveFiltering: packets of other channels, stray continuations and
// KEEPALIVEs are passed over; KEEPALIVE statuses reach the callback.
func TestReceiveFiltering(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789"), 30)
	c, f := startFake(t, func(f *fakeDevice) error {
		if err := f.init(); err != nil {
			return err
		}
		if _, _, err := f.readMsg(); err != nil {
			return err
		}
		return f.write(
			ctaphid.InitReport(0x0A0B0C0D, ctaphid.CmdCBOR, 1, []byte{0x55}),
			ctaphid.ContReport(testCID, 7, nil),
			ctaphid.InitReport(testCID, ctaphid.CmdKeepalive, 1, []byte{ctaphid.StatusProcessing}),
			ctaphid.InitReport(testCID, ctaphid.CmdKeepalive, 1, []byte{ctaphid.StatusUPNeeded}),
			ctaphid.InitReport(testCID, ctaphid.CmdCBOR, len(big), big),
			ctaphid.ContReport(0x0A0B0C0D, 0, nil),
			ctaphid.ContReport(testCID, 0, big[57:]),
			ctaphid.ContReport(testCID, 1, big[57+59:]),
			ctaphid.ContReport(testCID, 2, big[57+2*59:]),
			ctaphid.ContReport(testCID, 3, big[57+3*59:]),
			ctaphid.ContReport(testCID, 4, big[57+4*59:]),
		)
	})
	var statuses []byte
	resp, err := c.CBOR(context.Background(), []byte{4}, func(s byte) { statuses = append(statuses, s) })
	f.wait(t)
	if err != nil || !bytes.Equal(resp, big) {
		t.Fatalf("CBOR = %q, %v", resp, err)
	}
	if !bytes.Equal(statuses, []byte{1, 2}) {
		t.Fatalf("keepalive statuses % x, want 01 02", statuses)
	}
}

func TestBadResponses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		answer func(f *fakeDevice) error
	}{
		{"wrong command", func(f *fakeDevice) error {
			return f.reply(testCID, ctaphid.CmdCBOR, []byte{0})
		}},
		{"out of sequence", func(f *fakeDevice) error {
			return f.write(ctaphid.InitReport(testCID, ctaphid.CmdPing, 100, nil), ctaphid.ContReport(testCID, 1, nil))
		}},
		{"init packet mid-message", func(f *fakeDevice) error {
			return f.write(ctaphid.InitReport(testCID, ctaphid.CmdPing, 100, nil), ctaphid.InitReport(testCID, ctaphid.CmdPing, 1, nil))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, f := startFake(t, func(f *fakeDevice) error {
				if err := f.init(); err != nil {
					return err
				}
				if _, _, err := f.readMsg(); err != nil {
					return err
				}
				return tc.answer(f)
			})
			_, err := c.Ping(context.Background(), []byte("x"))
			f.wait(t)
			if !errors.Is(err, ErrUnexpectedResponse) {
				t.Fatalf("Ping = %v, want ErrUnexpectedResponse", err)
			}
			if _, err := c.Ping(context.Background(), nil); !errors.Is(err, ErrBroken) {
				t.Fatalf("after a bad response: %v, want ErrBroken", err)
			}
		})
	}
}

// TestCancel: a cancelled context sends CTAPHID_CANCEL on the channel and
// the reply that follows is returned.
func TestCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	c, f := startFake(t, func(f *fakeDevice) error {
		if err := f.init(); err != nil {
			return err
		}
		if cmd, _, err := f.readMsg(); err != nil || cmd != ctaphid.CmdCBOR {
			return errors.Join(err, errors.New("want CBOR"))
		}
		cancel()
		r, err := f.read()
		if err != nil {
			return err
		}
		if r.CID() != testCID || r.Command() != ctaphid.CmdCancel || r.Length() != 0 {
			return errors.New("want CANCEL on the client's channel")
		}
		return f.reply(testCID, ctaphid.CmdCBOR, []byte{0x2D})
	})
	resp, err := c.CBOR(ctx, []byte{4}, nil)
	f.wait(t)
	if err != nil || !bytes.Equal(resp, []byte{0x2D}) {
		t.Fatalf("CBOR = % x, %v; want 2d", resp, err)
	}
	if c.broken != nil {
		t.Fatalf("client broken after a cancel that was answered: %v", c.broken)
	}
}

// TestCancelUnanswered: an authenticator that ignores CANCEL costs the
// grace period, then the client gives up and is broken.
func TestCancelUnanswered(t *testing.T) {
	old := cancelGrace
	cancelGrace = 100 * time.Millisecond
	defer func() { cancelGrace = old }()
	ctx, cancel := context.WithCancel(context.Background())
	c, f := startFake(t, func(f *fakeDevice) error {
		if err := f.init(); err != nil {
			return err
		}
		if _, _, err := f.readMsg(); err != nil {
			return err
		}
		cancel()
		_, err := f.read() // the CANCEL, left unanswered
		return err
	})
	_, err := c.CBOR(ctx, []byte{4}, nil)
	f.wait(t)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CBOR = %v, want context.Canceled", err)
	}
	if _, err := c.Ping(context.Background(), nil); !errors.Is(err, ErrBroken) {
		t.Fatalf("after an unanswered cancel: %v, want ErrBroken", err)
	}
}

func TestInterruptedPing(t *testing.T) {
	t.Parallel()
	c, f := startFake(t, func(f *fakeDevice) error {
		if err := f.init(); err != nil {
			return err
		}
		_, _, err := f.readMsg() // and never answer
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Ping(ctx, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping = %v, want DeadlineExceeded", err)
	}
	f.wait(t)
	if _, err := c.Ping(context.Background(), nil); !errors.Is(err, ErrBroken) {
		t.Fatalf("after an interrupted Ping: %v, want ErrBroken", err)
	}
}

// TestAgainstServer runs the client against the real ctaphid server.
func TestAgainstServer(t *testing.T) {
	t.Parallel()
	path := socketPath(t)
	l, err := ctaphid.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := ctaphid.NewServer(echoHandler{})
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if info := c.Info(); info.CID == 0 || info.ProtocolVersion != 2 || info.Capabilities&ctaphid.CapCBOR == 0 {
		t.Fatalf("Info() = %+v", info)
	}
	if got, err := c.Ping(ctx, []byte("hello")); err != nil || string(got) != "hello" {
		t.Fatalf("Ping = %q, %v", got, err)
	}
	var code ctaphid.ErrorCode
	if err := c.Wink(ctx); !errors.As(err, &code) || code != ctaphid.ErrInvalidCmd {
		t.Fatalf("Wink = %v, want ERR_INVALID_CMD", err)
	}
	if _, err := c.CBOR(ctx, nil, nil); !errors.Is(err, ctaphid.ErrInvalidLen) {
		t.Fatalf("empty CBOR = %v, want ERR_INVALID_LEN", err)
	}
	if got, err := c.CBOR(ctx, []byte{4}, nil); err != nil || !bytes.Equal(got, []byte{4}) {
		t.Fatalf("CBOR after a CTAPHID error = % x, %v", got, err)
	}
}

type echoHandler struct{}

func (echoHandler) ServeCTAP(_ context.Context, req []byte, _ func()) []byte { return req }

// TestAppendCBOR: the reply is appended to the caller's buffer, in place
// when it has room, and an error leaves the buffer as it was.
func TestAppendCBOR(t *testing.T) {
	t.Parallel()
	reply := bytes.Repeat([]byte("reply-"), 30) // five packets
	roomy := append(make([]byte, 0, 512), "ab"...)
	cases := []struct {
		name    string
		dst     []byte
		inPlace bool
	}{
		{"nil", nil, false},
		{"roomy", roomy, true},
		{"full", []byte("ab"), false},
	}
	c, f := startFake(t, func(f *fakeDevice) error {
		if err := f.init(); err != nil {
			return err
		}
		for range cases {
			if _, _, err := f.readMsg(); err != nil {
				return err
			}
			if err := f.reply(testCID, ctaphid.CmdCBOR, reply); err != nil {
				return err
			}
		}
		if _, _, err := f.readMsg(); err != nil {
			return err
		}
		return f.reply(testCID, ctaphid.CmdPing, nil) // out of protocol
	})
	for _, tc := range cases {
		got, err := c.AppendCBOR(context.Background(), tc.dst, []byte{4}, nil)
		if want := append(append([]byte(nil), tc.dst...), reply...); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: AppendCBOR = %q, %v; want %q", tc.name, got, err, want)
		}
		if inPlace := cap(tc.dst) > 0 && &got[0] == &tc.dst[:1][0]; inPlace != tc.inPlace {
			t.Errorf("%s: reply written in place %v, want %v", tc.name, inPlace, tc.inPlace)
		}
	}
	got, err := c.AppendCBOR(context.Background(), roomy, []byte{4}, nil)
	f.wait(t)
	if !errors.Is(err, ErrUnexpectedResponse) || !bytes.Equal(got, []byte("ab")) {
		t.Fatalf("AppendCBOR after a bad response = %q, %v; want \"ab\", ErrUnexpectedResponse", got, err)
	}
}

// TestDialContext: a cancelled context ends a CTAPHID_INIT that gets no
// answer.
func TestDialContext(t *testing.T) {
	t.Parallel()
	path := socketPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err == nil {
			defer nc.Close()
			_, _ = io.Copy(io.Discard, nc) // and never answer
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := DialContext(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DialContext = %v, want DeadlineExceeded", err)
	}
}

// TestAppendCBORAllocations: with a context that is never cancelled and a
// reply buffer with room, a transaction allocates nothing, which the load
// tool relies on. (A Unix socket, because net.Pipe allocates.)
func TestAppendCBORAllocations(t *testing.T) {
	reply := bytes.Repeat([]byte{0xA5}, 200)
	canned, err := ctaphid.AppendMessage(nil, testCID, ctaphid.CmdCBOR, reply)
	if err != nil {
		t.Fatal(err)
	}
	path := socketPath(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f := &fakeDevice{errs: make(chan error, 1)}
	go func() {
		if f.nc, err = l.Accept(); err != nil {
			f.errs <- err
			return
		}
		defer f.nc.Close()
		if err := f.init(); err != nil {
			f.errs <- err
			return
		}
		var r ctaphid.Report
		for { // one report in, the reply out
			if _, err := io.ReadFull(f.nc, r[:]); err != nil {
				f.errs <- nil // the client hung up
				return
			}
			if _, err := f.nc.Write(canned); err != nil {
				f.errs <- err
				return
			}
		}
	}()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, req, buf := context.Background(), []byte{2, 0xA0}, make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		if buf, err = c.AppendCBOR(ctx, buf[:0], req, nil); err != nil || !bytes.Equal(buf, reply) {
			t.Fatalf("AppendCBOR = %d bytes, %v", len(buf), err)
		}
	})
	c.Close()
	f.wait(t)
	if allocs != 0 {
		t.Errorf("%v allocations per transaction, want 0", allocs)
	}
}

// socketPath is a path for a Unix socket in a directory removed after the
// test: a short one, since t.TempDir's can pass the 108-byte limit.
func socketPath(t *testing.T) string {
	dir, err := os.MkdirTemp("", "hidc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}
