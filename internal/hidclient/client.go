// Package hidclient is a CTAPHID client (CTAP 2.1 §11.2) over any stream of
// 64-byte reports, such as a connection to passkeyd's ctaphid.sock. The CLI,
// the load tool and tests use it.
//
// A [Client] owns one channel, allocated with CTAPHID_INIT when it is made,
// and runs one transaction at a time. CTAPHID_ERROR responses come back as
// a [ctaphid.ErrorCode], so errors.Is(err, ctaphid.ErrChannelBusy) works.
// Cancelling a context interrupts a transaction only when the stream has
// read deadlines (net.Conn, *os.File); after an interrupted transaction the
// client is unusable, because the rest of the response may still arrive.
package hidclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// ErrUnexpectedResponse means the authenticator answered out of protocol.
var ErrUnexpectedResponse = errors.New("hidclient: unexpected response")

// ErrBroken means an earlier transaction was interrupted and the stream can
// no longer be trusted; make a new client.
var ErrBroken = errors.New("hidclient: connection unusable after an interrupted transaction")

// initTimeout bounds CTAPHID_INIT when a client is made.
const initTimeout = 5 * time.Second

// cancelGrace is how long CBOR waits for the reply after sending
// CTAPHID_CANCEL. Tests shorten it.
var cancelGrace = 5 * time.Second

// Info is the CTAPHID_INIT response (CTAP 2.1 §11.2.9.1.3).
type Info struct {
	CID             uint32 // the client's channel
	ProtocolVersion byte   // CTAPHID protocol version, 2
	Major           byte   // device version
	Minor           byte
	Build           byte
	Capabilities    byte // ctaphid.CapWink, CapCBOR, CapNMSG, …
}

// Client is a CTAPHID host on one channel. Its methods are safe for
// concurrent use; transactions run one after the other.
type Client struct {
	rw   io.ReadWriter
	br   *bufio.Reader // reads up to 16 reports per system call
	info Info

	mu     sync.Mutex     // one transaction at a time
	rbuf   ctaphid.Report // the report being read; under mu
	broken error

	wmu  sync.Mutex // whole messages; CANCEL comes from another goroutine
	wbuf []byte     // the message being written; under wmu
}

// Dial connects to a CTAPHID Unix socket and allocates a channel.
func Dial(path string) (*Client, error) {
	return DialContext(context.Background(), path)
}

// DialContext is [Dial] with ctx bounding the connection and CTAPHID_INIT.
func DialContext(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("hidclient: failed to connect: %w", err)
	}
	c, err := NewContext(ctx, nc)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// New allocates a channel on conn with CTAPHID_INIT and a random nonce.
func New(conn io.ReadWriter) (*Client, error) {
	return NewContext(context.Background(), conn)
}

// NewContext is [New] with ctx bounding CTAPHID_INIT, which it cuts short
// only when conn has read deadlines, as a transaction.
func NewContext(ctx context.Context, conn io.ReadWriter) (*Client, error) {
	c := &Client{rw: conn, br: bufio.NewReaderSize(conn, 16*ctaphid.ReportSize)}
	ctx, cancel := context.WithTimeout(ctx, initTimeout)
	defer cancel()
	if err := c.init(ctx); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("hidclient: CTAPHID_INIT failed: %w", err)
	}
	return c, nil
}

// Info is what the authenticator said at CTAPHID_INIT.
func (c *Client) Info() Info { return c.info }

// CID is the client's channel.
func (c *Client) CID() uint32 { return c.info.CID }

// Close closes the underlying stream if it can be closed.
func (c *Client) Close() error {
	if cl, ok := c.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// init runs CTAPHID_INIT on the broadcast channel, skipping responses to
// other hosts' nonces.
func (c *Client) init(ctx context.Context) error {
	nonce := make([]byte, ctaphid.InitNonceSize)
	_, _ = rand.Read(nonce)
	if err := c.write(ctx, ctaphid.BroadcastCID, ctaphid.CmdInit, nonce); err != nil {
		return err
	}
	return c.interruptible(ctx, func() error {
		for {
			resp, err := c.receive(nil, ctaphid.BroadcastCID, ctaphid.CmdInit, nil)
			if err != nil {
				return err
			}
			if len(resp) >= ctaphid.InitResponseSize && bytes.Equal(resp[:8], nonce) {
				c.info = parseInfo(resp)
				return nil
			}
		}
	})
}

// parseInfo decodes a CTAPHID_INIT response of at least 17 bytes.
func parseInfo(resp []byte) Info {
	return Info{
		CID: binary.BigEndian.Uint32(resp[8:12]), ProtocolVersion: resp[12],
		Major: resp[13], Minor: resp[14], Build: resp[15], Capabilities: resp[16],
	}
}

// Ping sends data with CTAPHID_PING and returns the echo.
func (c *Client) Ping(ctx context.Context, data []byte) ([]byte, error) {
	return c.Transact(ctx, ctaphid.CmdPing, data)
}

// Wink asks the authenticator to identify itself (CTAPHID_WINK).
func (c *Client) Wink(ctx context.Context) error {
	_, err := c.Transact(ctx, ctaphid.CmdWink, nil)
	return err
}

// Transact sends one message on the client's channel and returns the
// response to it. A CTAPHID_ERROR response is returned as an error that
// wraps its [ctaphid.ErrorCode].
func (c *Client) Transact(ctx context.Context, cmd ctaphid.Command, data []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(ctx); err != nil {
		return nil, err
	}
	if err := c.write(ctx, c.info.CID, cmd, data); err != nil {
		return nil, c.fail(err)
	}
	var resp []byte
	err := c.interruptible(ctx, func() (err error) {
		resp, err = c.receive(nil, c.info.CID, cmd, nil)
		return err
	})
	return resp, c.settle(ctx, err)
}

// CBOR sends a CTAP2 message (command byte and CBOR parameters) with
// CTAPHID_CBOR and returns the reply (status byte and CBOR response).
// onKeepalive, if not nil, gets the status of every KEEPALIVE
// (ctaphid.StatusProcessing or ctaphid.StatusUPNeeded). When ctx ends, CBOR
// sends CTAPHID_CANCEL and goes on waiting, up to five seconds, for the
// reply, which then normally carries CTAP2_ERR_KEEPALIVE_CANCEL (0x2D).
func (c *Client) CBOR(ctx context.Context, req []byte, onKeepalive func(status byte)) ([]byte, error) {
	return c.AppendCBOR(ctx, nil, req, onKeepalive)
}

// AppendCBOR is [Client.CBOR] that appends the reply to dst and returns the
// extended buffer, so that a caller that sends many messages can reuse one.
// On error it returns dst unchanged.
func (c *Client) AppendCBOR(ctx context.Context, dst, req []byte, onKeepalive func(status byte)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(ctx); err != nil {
		return dst, err
	}
	if err := c.write(ctx, c.info.CID, ctaphid.CmdCBOR, req); err != nil {
		return dst, c.fail(err)
	}
	if ctx.Done() == nil { // never cancelled: spare the AfterFunc
		resp, err := c.receive(dst, c.info.CID, ctaphid.CmdCBOR, onKeepalive)
		return resp, c.settle(ctx, err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		c.sendCancel()
	})
	resp, err := c.receive(dst, c.info.CID, ctaphid.CmdCBOR, onKeepalive)
	if !stop() {
		<-fired
		c.setReadDeadline(time.Time{})
	}
	return resp, c.settle(ctx, err)
}

// sendCancel sends CTAPHID_CANCEL and bounds the wait for the reply.
func (c *Client) sendCancel() {
	r := ctaphid.InitReport(c.info.CID, ctaphid.CmdCancel, 0, nil)
	c.wmu.Lock()
	_, err := c.rw.Write(r[:])
	c.wmu.Unlock()
	if err != nil {
		c.setReadDeadline(time.Now())
		return
	}
	c.setReadDeadline(time.Now().Add(cancelGrace))
}

// usable refuses to start a transaction on a broken client or a done ctx.
func (c *Client) usable(ctx context.Context) error {
	if c.broken != nil {
		return ErrBroken
	}
	return ctx.Err()
}

// settle decides what a transaction's error means for the client: a
// CTAPHID error leaves it usable, anything else breaks it.
func (c *Client) settle(ctx context.Context, err error) error {
	if err == nil {
		return nil // before code, which escapes
	}
	var code ctaphid.ErrorCode
	if errors.As(err, &code) {
		return err
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("hidclient: %w (%v)", ctx.Err(), err)
	}
	return c.fail(err)
}

// fail marks the client broken.
func (c *Client) fail(err error) error {
	c.broken = err
	return err
}

// interruptible runs read with reads cut short when ctx ends.
func (c *Client) interruptible(ctx context.Context, read func() error) error {
	return c.cutShort(ctx, (*Client).setReadDeadline, read)
}

// cutShort runs op, calling setDeadline(now) when ctx ends meanwhile and
// clearing the deadline afterwards.
func (c *Client) cutShort(ctx context.Context, setDeadline func(*Client, time.Time), op func() error) error {
	if ctx.Done() == nil { // never cancelled: spare the AfterFunc
		return op()
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		setDeadline(c, time.Now())
	})
	err := op()
	if !stop() {
		<-fired
		setDeadline(c, time.Time{})
	}
	return err
}

// setReadDeadline sets the stream's read deadline, if it has one.
func (c *Client) setReadDeadline(t time.Time) {
	if d, ok := c.rw.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(t)
	}
}

// setWriteDeadline sets the stream's write deadline, if it has one.
func (c *Client) setWriteDeadline(t time.Time) {
	if d, ok := c.rw.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(t)
	}
}
