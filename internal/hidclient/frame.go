package hidclient

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// write sends one message as its packets, in one write that ctx can cut
// short.
func (c *Client) write(ctx context.Context, cid uint32, cmd ctaphid.Command, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf, err := ctaphid.AppendMessage(c.wbuf[:0], cid, cmd, data)
	if err != nil {
		return fmt.Errorf("hidclient: %s of %d bytes: %w", cmd, len(data), err)
	}
	c.wbuf = buf
	return c.cutShort(ctx, (*Client).setWriteDeadline, func() error {
		if _, err := c.rw.Write(buf); err != nil {
			return fmt.Errorf("hidclient: failed to send %s: %w", cmd, err)
		}
		return nil
	})
}

// receive reads the response to cmd on cid and appends it to dst, passing
// KEEPALIVE statuses to onKeepalive and skipping packets of other channels.
// On error it returns dst unchanged.
func (c *Client) receive(dst []byte, cid uint32, cmd ctaphid.Command, onKeepalive func(byte)) ([]byte, error) {
	for {
		r, err := c.readReport()
		if err != nil {
			return dst, err
		}
		if r.CID() != cid || !r.IsInit() {
			continue
		}
		switch got := r.Command(); {
		case got == cmd:
			return c.readRest(dst, &r)
		case got == ctaphid.CmdKeepalive && r.Length() >= 1:
			if onKeepalive != nil {
				onKeepalive(r.Data()[0])
			}
		case got == ctaphid.CmdError && r.Length() >= 1:
			return dst, fmt.Errorf("hidclient: %s: %w", cmd, ctaphid.ErrorCode(r.Data()[0]))
		default:
			return dst, fmt.Errorf("%w: %s in answer to %s", ErrUnexpectedResponse, got, cmd)
		}
	}
}

// readRest reads the continuation packets of a message that starts with
// first (CTAP 2.1 §11.2.4) and appends the message to dst.
func (c *Client) readRest(dst []byte, first *ctaphid.Report) ([]byte, error) {
	n, cid := first.Length(), first.CID()
	if n > ctaphid.MaxMessageSize {
		return dst, fmt.Errorf("%w: length %d", ErrUnexpectedResponse, n)
	}
	msg := append(slices.Grow(dst, n), first.Data()[:min(n, ctaphid.InitDataSize)]...)
	for seq, end := byte(0), len(dst)+n; len(msg) < end; seq++ {
		r, err := c.nextOn(cid)
		if err != nil {
			return dst, err
		}
		if r.IsInit() || r.Seq() != seq {
			return dst, fmt.Errorf("%w: packet out of sequence", ErrUnexpectedResponse)
		}
		msg = append(msg, r.Data()[:min(end-len(msg), ctaphid.ContDataSize)]...)
	}
	return msg, nil
}

// nextOn reads the next packet of channel cid.
func (c *Client) nextOn(cid uint32) (ctaphid.Report, error) {
	for {
		r, err := c.readReport()
		if err != nil || r.CID() == cid {
			return r, err
		}
	}
}

// readReport reads one whole report.
func (c *Client) readReport() (ctaphid.Report, error) {
	if _, err := io.ReadFull(c.br, c.rbuf[:]); err != nil {
		return ctaphid.Report{}, fmt.Errorf("hidclient: failed to read: %w", err)
	}
	return c.rbuf, nil
}
