package ctaphid_test

import (
	"testing"

	"github.com/passkeyd/passkeyd/ctaphid"
)

// fixture is one connection with one allocated channel on a server whose
// handler is a gate.
type fixture struct {
	ts   *testServer
	c    *rawConn
	cid  uint32
	gate *gate
}

// unallocated is a channel nobody allocated (fido2-tests uses it too).
const unallocated uint32 = 0x11223344

// TestErrors covers every CTAPHID_ERROR case of CTAP 2.1 §11.2.9.1.6 that
// trussed-dev/fido2-tests checks, and more. Each case sends packets and
// names the channel that must get the error; then the connection must still
// work.
func TestErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		send func(f *fixture) uint32
		want ctaphid.ErrorCode
		then func(f *fixture) // default: f.cid answers PING
	}{
		{"empty CBOR", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdCBOR, 0, nil)
			return f.cid
		}, ctaphid.ErrInvalidLen, nil},
		{"unknown command", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, 0xE6, 0, nil)
			return f.cid
		}, ctaphid.ErrInvalidCmd, nil},
		{"MSG without U2F", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdMsg, 4, []byte{0, 3, 0, 0})
			return f.cid
		}, ctaphid.ErrInvalidCmd, nil},
		{"LOCK unsupported", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdLock, 1, []byte{5})
			return f.cid
		}, ctaphid.ErrInvalidCmd, nil},
		{"KEEPALIVE from the host", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdKeepalive, 1, []byte{1})
			return f.cid
		}, ctaphid.ErrInvalidCmd, nil},
		{"skipped SEQ", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdPing, 200, nil)
			f.c.sendCont(f.cid, 0, nil)
			f.c.sendCont(f.cid, 1, nil)
			f.c.sendCont(f.cid, 3, nil)
			return f.cid
		}, ctaphid.ErrInvalidSeq, nil},
		{"init packet mid-message", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdPing, 100, nil)
			f.c.sendInit(f.cid, ctaphid.CmdPing, 4, nil)
			return f.cid
		}, ctaphid.ErrInvalidSeq, nil},
		{"other channel mid-message", func(f *fixture) uint32 {
			other := f.c.allocate()
			f.c.sendInit(f.cid, ctaphid.CmdPing, 100, make([]byte, 57))
			f.c.sendInit(other, ctaphid.CmdPing, 4, nil)
			return other
		}, ctaphid.ErrChannelBusy, finishPing100},
		{"unallocated channel mid-message", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdPing, 100, make([]byte, 57))
			f.c.sendInit(unallocated, ctaphid.CmdPing, 4, nil)
			return unallocated
		}, ctaphid.ErrChannelBusy, finishPing100},
		{"other channel during CBOR", func(f *fixture) uint32 {
			other := f.c.allocate()
			f.c.sendMsg(f.cid, ctaphid.CmdCBOR, []byte{4})
			f.gate.waitStarted(f.c.t)
			f.c.sendInit(other, ctaphid.CmdPing, 4, nil)
			return other
		}, ctaphid.ErrChannelBusy, finishCBOR},
		{"same channel during CBOR", func(f *fixture) uint32 {
			f.c.sendMsg(f.cid, ctaphid.CmdCBOR, []byte{4})
			f.gate.waitStarted(f.c.t)
			f.c.sendInit(f.cid, ctaphid.CmdPing, 4, nil)
			return f.cid
		}, ctaphid.ErrChannelBusy, finishCBOR},
		{"stalled message", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdPing, 1000, nil)
			f.c.sendCont(f.cid, 0, nil)
			return f.cid
		}, ctaphid.ErrMsgTimeout, nil},
		{"INIT on CID 0", func(f *fixture) uint32 {
			f.c.sendInit(0, ctaphid.CmdInit, 8, randomBytes(8))
			return 0
		}, ctaphid.ErrInvalidChannel, nil},
		{"PING on CID 0", func(f *fixture) uint32 {
			f.c.sendInit(0, ctaphid.CmdPing, 1, nil)
			return 0
		}, ctaphid.ErrInvalidChannel, nil},
		{"PING on broadcast", func(f *fixture) uint32 {
			f.c.sendInit(ctaphid.BroadcastCID, ctaphid.CmdPing, 8, nil)
			return ctaphid.BroadcastCID
		}, ctaphid.ErrInvalidChannel, nil},
		{"CBOR on broadcast", func(f *fixture) uint32 {
			f.c.sendInit(ctaphid.BroadcastCID, ctaphid.CmdCBOR, 1, []byte{4})
			return ctaphid.BroadcastCID
		}, ctaphid.ErrInvalidChannel, nil},
		{"unallocated channel", func(f *fixture) uint32 {
			f.c.sendInit(unallocated, ctaphid.CmdPing, 1, nil)
			return unallocated
		}, ctaphid.ErrInvalidChannel, nil},
		{"INIT on unallocated channel", func(f *fixture) uint32 {
			f.c.sendInit(unallocated, ctaphid.CmdInit, 8, randomBytes(8))
			return unallocated
		}, ctaphid.ErrInvalidChannel, nil},
		{"channel of another connection", func(f *fixture) uint32 {
			theirs := f.ts.raw(f.c.t).allocate()
			f.c.sendInit(theirs, ctaphid.CmdPing, 1, nil)
			return theirs
		}, ctaphid.ErrInvalidChannel, nil},
		{"BCNT 7610", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdPing, ctaphid.MaxMessageSize+1, nil)
			return f.cid
		}, ctaphid.ErrInvalidLen, nil},
		{"BCNT 0xFFFF", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdCBOR, 0xFFFF, nil)
			return f.cid
		}, ctaphid.ErrInvalidLen, nil},
		{"INIT nonce too short", func(f *fixture) uint32 {
			f.c.sendInit(ctaphid.BroadcastCID, ctaphid.CmdInit, 4, randomBytes(4))
			return ctaphid.BroadcastCID
		}, ctaphid.ErrInvalidLen, nil},
		{"resync nonce too long", func(f *fixture) uint32 {
			f.c.sendInit(f.cid, ctaphid.CmdInit, 9, randomBytes(9))
			return f.cid
		}, ctaphid.ErrInvalidLen, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate()
			f := &fixture{ts: startServer(t, g), gate: g}
			f.c = f.ts.raw(t)
			f.cid = f.c.allocate()
			f.c.expectError(tc.send(f), tc.want)
			if tc.then != nil {
				tc.then(f)
			}
			f.c.ping(f.cid)
		})
	}
}

// finishPing100 completes the 100-byte PING begun on f.cid.
func finishPing100(f *fixture) {
	f.c.sendCont(f.cid, 0, make([]byte, 59))
	f.c.expect(f.cid, ctaphid.CmdPing, make([]byte, 100))
}

// finishCBOR releases the handler and reads its reply.
func finishCBOR(f *fixture) {
	f.gate.open()
	f.c.expect(f.cid, ctaphid.CmdCBOR, []byte{0x00, 4})
}
