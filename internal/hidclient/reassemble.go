package hidclient

import (
	"fmt"
	"slices"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// A Reassembler puts together the response to one request from the reports
// of a stream (CTAP 2.1 §11.2.4), for a caller that reads the stream itself,
// such as an event loop that drives many connections from one goroutine. It
// follows the rules of a [Client] transaction: packets of other channels and
// continuation packets before the response are passed over, KEEPALIVEs go to
// the callback, a CTAPHID_ERROR response is an error that wraps its
// [ctaphid.ErrorCode], and anything else out of protocol is an error that
// wraps [ErrUnexpectedResponse], after which the stream is unusable.
//
// The zero Reassembler is ready for [Reassembler.Start].
type Reassembler struct {
	cid         uint32
	cmd         ctaphid.Command
	onKeepalive func(status byte)
	msg         []byte // the caller's buffer, then the response so far
	started     bool   // the response's first packet has come
	end         int    // len(msg) when the response is whole
	seq         byte   // the next continuation packet's
}

// Start waits for the response to cmd on channel cid, which
// [Reassembler.Add] appends to dst. onKeepalive, if not nil, gets the
// status of every KEEPALIVE.
func (a *Reassembler) Start(dst []byte, cid uint32, cmd ctaphid.Command, onKeepalive func(status byte)) {
	*a = Reassembler{cid: cid, cmd: cmd, onKeepalive: onKeepalive, msg: dst}
}

// Add takes the next report of the stream. Once the response is whole, it
// returns it appended to the dst given to Start, and done.
func (a *Reassembler) Add(r *ctaphid.Report) (resp []byte, done bool, err error) {
	if r.CID() != a.cid {
		return nil, false, nil
	}
	if !a.started {
		return a.first(r)
	}
	if r.IsInit() || r.Seq() != a.seq {
		return nil, false, fmt.Errorf("%w: packet out of sequence", ErrUnexpectedResponse)
	}
	a.seq++
	a.msg = append(a.msg, r.Data()[:min(a.end-len(a.msg), ctaphid.ContDataSize)]...)
	return a.msg, len(a.msg) == a.end, nil
}

// first handles a report of the channel before the response has started.
func (a *Reassembler) first(r *ctaphid.Report) (resp []byte, done bool, err error) {
	if !r.IsInit() {
		return nil, false, nil
	}
	switch got, n := r.Command(), r.Length(); {
	case got == a.cmd && n > ctaphid.MaxMessageSize:
		return nil, false, fmt.Errorf("%w: length %d", ErrUnexpectedResponse, n)
	case got == a.cmd:
		a.started, a.end = true, len(a.msg)+n
		a.msg = append(slices.Grow(a.msg, n), r.Data()[:min(n, ctaphid.InitDataSize)]...)
		return a.msg, len(a.msg) == a.end, nil
	case got == ctaphid.CmdKeepalive && n >= 1:
		if a.onKeepalive != nil {
			a.onKeepalive(r.Data()[0])
		}
		return nil, false, nil
	case got == ctaphid.CmdError && n >= 1:
		return nil, false, fmt.Errorf("hidclient: %s: %w", a.cmd, ctaphid.ErrorCode(r.Data()[0]))
	default:
		return nil, false, fmt.Errorf("%w: %s in answer to %s", ErrUnexpectedResponse, got, a.cmd)
	}
}
