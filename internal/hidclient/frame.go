package hidclient

import (
	"context"
	"fmt"
	"io"

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
	var a Reassembler
	a.Start(dst, cid, cmd, onKeepalive)
	for {
		r, err := c.readReport()
		if err != nil {
			return dst, err
		}
		switch resp, done, err := a.Add(&r); {
		case err != nil:
			return dst, err
		case done:
			return resp, nil
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
