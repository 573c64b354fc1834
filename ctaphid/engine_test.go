package ctaphid

import (
	"log/slog"
	"maps"
	"testing"
)

// TestChannelEviction: a host handle keeps at most maxChannels channels,
// freeing the least recently used idle one; closing it frees them all.
func TestChannelEviction(t *testing.T) {
	e := newEngine(fuzzHandler{}, slog.New(slog.DiscardHandler))
	t.Cleanup(e.stop) // ends the watchdog
	e.maxChannels = 3
	sink := &replySink{}
	d := e.newDevice(sink.send)
	a, b, c := allocateFor(d, sink), allocateFor(d, sink), allocateFor(d, sink)
	ping := InitReport(a, CmdPing, 0, nil)
	d.receive(&ping) // a is now used more recently than b
	fresh := allocateFor(d, sink)

	d.mu.Lock()
	alive := map[uint32]bool{a: d.owns(a), b: d.owns(b), c: d.owns(c), fresh: d.owns(fresh)}
	d.mu.Unlock()
	if want := map[uint32]bool{a: true, b: false, c: true, fresh: true}; !maps.Equal(alive, want) {
		t.Fatalf("channels alive %v, want %v (b evicted)", alive, want)
	}
	if n := len(e.alloc.used); n != 3 {
		t.Fatalf("allocator holds %d channels, want 3", n)
	}
	d.close()
	if n := len(e.alloc.used); n != 0 {
		t.Fatalf("allocator holds %d channels after close, want 0", n)
	}
}
