package ctaphid

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fuzzHandler echoes CBOR messages, says it needs the user when the message
// starts with 0x02, and winks.
type fuzzHandler struct{}

func (fuzzHandler) ServeCTAP(_ context.Context, req []byte, userNeeded func()) []byte {
	if req[0] == 0x02 {
		userNeeded()
	}
	return req
}

func (fuzzHandler) Wink() {}

var _ Winker = fuzzHandler{}

// fuzzStep is how FuzzReassembly reads its input: one selector byte, then a
// 64-byte report whose CID the selector may replace, so that the fuzzer
// reaches allocated channels.
const fuzzStep = 1 + ReportSize

// FuzzReassembly feeds report sequences into one device. Invariants: no
// panic; replies are whole, well-sequenced messages; replies go only to the
// broadcast channel or to channels the host used, and anything but ERROR
// only to channels the device allocated.
func FuzzReassembly(f *testing.F) {
	f.Add(fuzzSeed(1, fuzzMessage(1, CmdPing, make([]byte, 100))))
	f.Add(fuzzSeed(2, fuzzMessage(2, CmdCBOR, []byte{0x02, 0xA0})))
	f.Add(fuzzSeed(1, append(fuzzMessage(1, CmdPing, make([]byte, 200))[:2*fuzzStep], fuzzMessage(2, CmdWink, nil)...)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sink := &replySink{}
		e := newEngine(fuzzHandler{}, slog.New(slog.DiscardHandler))
		e.msgTimeout = time.Hour // timers would make runs differ
		d := e.newDevice(sink.send)
		cids := [2]uint32{allocateFor(d, sink), allocateFor(d, sink)}
		used := map[uint32]bool{BroadcastCID: true, cids[0]: true, cids[1]: true}
		for len(data) >= fuzzStep {
			r := fuzzReport(data[:fuzzStep], cids)
			used[r.CID()] = true
			d.receive(&r)
			data = data[fuzzStep:]
		}
		e.tasks.Wait()
		d.close()
		e.stop() // ends the watchdog
		if err := checkReplies(sink.reports(), used); err != nil {
			t.Fatal(err)
		}
	})
}

// replySink records what a device sends.
type replySink struct {
	mu   sync.Mutex
	sent []Report
}

func (s *replySink) send(msg []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(msg)%ReportSize != 0 {
		panic(fmt.Sprintf("send got %d bytes, not whole reports", len(msg)))
	}
	for ; len(msg) > 0; msg = msg[ReportSize:] {
		s.sent = append(s.sent, Report(msg[:ReportSize]))
	}
	return true
}

func (s *replySink) reports() []Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Report(nil), s.sent...)
}

// allocateFor runs a broadcast INIT and returns the channel it gave.
func allocateFor(d *device, s *replySink) uint32 {
	r := InitReport(BroadcastCID, CmdInit, InitNonceSize, []byte("12345678"))
	d.receive(&r)
	sent := s.reports()
	last := sent[len(sent)-1]
	return binary.BigEndian.Uint32(last.Data()[8:12])
}

// fuzzReport decodes one step: selector 1 and 2 put the report on an
// allocated channel, 3 on broadcast, 4 on channel 0; anything else keeps
// the report's own CID.
func fuzzReport(step []byte, cids [2]uint32) Report {
	var r Report
	copy(r[:], step[1:])
	switch step[0] % 8 {
	case 1:
		binary.BigEndian.PutUint32(r[:], cids[0])
	case 2:
		binary.BigEndian.PutUint32(r[:], cids[1])
	case 3:
		binary.BigEndian.PutUint32(r[:], BroadcastCID)
	case 4:
		binary.BigEndian.PutUint32(r[:], 0)
	}
	return r
}

// checkReplies parses the reports a device sent as messages and checks the
// invariants of FuzzReassembly.
func checkReplies(sent []Report, used map[uint32]bool) error {
	allocated := map[uint32]bool{}
	for i := 0; i < len(sent); {
		r := sent[i]
		if !r.IsInit() || r.Length() > MaxMessageSize {
			return fmt.Errorf("report %d: not the start of a message: % x", i, r[:8])
		}
		if !used[r.CID()] {
			return fmt.Errorf("report %d: reply on channel %08x the host never used", i, r.CID())
		}
		if r.Command() != CmdError && r.CID() != BroadcastCID && !allocated[r.CID()] {
			return fmt.Errorf("report %d: %s on unallocated channel %08x", i, r.Command(), r.CID())
		}
		if r.Command() == CmdInit && r.CID() == BroadcastCID {
			cid := binary.BigEndian.Uint32(r.Data()[8:12])
			if cid == 0 || cid == BroadcastCID {
				return fmt.Errorf("report %d: INIT allocated reserved channel %08x", i, cid)
			}
			allocated[cid] = true
		}
		n := reportCount(r.Length())
		for seq := 0; seq < n-1; seq++ {
			if i+1+seq >= len(sent) {
				return fmt.Errorf("report %d: message cut short", i)
			}
			c := sent[i+1+seq]
			if c.IsInit() || c.CID() != r.CID() || int(c.Seq()) != seq {
				return fmt.Errorf("report %d: continuation %d out of sequence", i, seq)
			}
		}
		i += n
	}
	return nil
}

// fuzzMessage encodes a message as fuzz steps with selector sel.
func fuzzMessage(sel byte, cmd Command, msg []byte) []byte {
	reports, _ := Fragment(0, cmd, msg)
	var out []byte
	for _, r := range reports {
		out = append(append(out, sel), r[:]...)
	}
	return out
}

// fuzzSeed starts with a PING on channel sel, then appends more.
func fuzzSeed(sel byte, more []byte) []byte {
	return append(fuzzMessage(sel, CmdPing, []byte("hi")), more...)
}
