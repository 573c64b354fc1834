package ctaphid

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// slowHandler holds each request until released, then answers 0x00.
type slowHandler struct{ release chan struct{} }

func (h slowHandler) ServeCTAP(ctx context.Context, _ []byte, _ func()) []byte {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return []byte{0x00}
}

// countKeepalives counts the KEEPALIVE reports sent on cid.
func countKeepalives(s *replySink, cid uint32) int {
	n := 0
	for _, r := range s.reports() {
		if r.CID() == cid && r.IsInit() && r.Command() == CmdKeepalive {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestWatchdogSleepsAndWakes: the watchdog sends KEEPALIVE to a request in
// flight and calls the slow hook once, falls asleep when nothing has been in
// flight for a while, and the next request wakes it: that request gets its
// KEEPALIVEs and its slow hook too. A lost wake-up would leave the second
// request without either.
func TestWatchdogSleepsAndWakes(t *testing.T) {
	h := slowHandler{release: make(chan struct{})}
	e := newEngine(h, slog.New(slog.DiscardHandler))
	t.Cleanup(e.stop)
	e.keepalive = 20 * time.Millisecond
	e.watch.tick = 2 * time.Millisecond
	e.watch.slowAfter = 10 * time.Millisecond
	sink := &replySink{}
	d := e.newDevice(sink.send)
	var mu sync.Mutex
	slowCalls := 0
	d.slow = func() {
		mu.Lock()
		slowCalls++
		mu.Unlock()
	}
	slow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return slowCalls
	}
	cid := allocateFor(d, sink)

	for round := 1; round <= 2; round++ {
		before := countKeepalives(sink, cid)
		req := InitReport(cid, CmdCBOR, 1, []byte{0x01})
		d.receive(&req)
		waitFor(t, "two KEEPALIVEs", func() bool { return countKeepalives(sink, cid) >= before+2 })
		waitFor(t, "the slow hook", func() bool { return slow() == round })
		h.release <- struct{}{}
		e.tasks.Wait()
		after := countKeepalives(sink, cid)
		time.Sleep(5 * e.watch.tick)
		if got := countKeepalives(sink, cid); got != after {
			t.Fatalf("round %d: %d KEEPALIVEs after the reply", round, got-after)
		}
		if slow() != round {
			t.Fatalf("round %d: slow hook called %d times, want once per request", round, slow())
		}
		waitFor(t, "the watchdog to sleep", e.watch.asleep.Load)
	}
}

// TestWatchdogTimesOutMessages: a message whose next packet never comes is
// answered with ERR_MSG_TIMEOUT by the watchdog, also when it was asleep.
func TestWatchdogTimesOutMessages(t *testing.T) {
	e := newEngine(fuzzHandler{}, slog.New(slog.DiscardHandler))
	t.Cleanup(e.stop)
	e.msgTimeout = 20 * time.Millisecond
	e.watch.tick = 2 * time.Millisecond
	sink := &replySink{}
	d := e.newDevice(sink.send)
	cid := allocateFor(d, sink)
	for round := 1; round <= 2; round++ {
		first := InitReport(cid, CmdPing, 200, make([]byte, InitDataSize))
		d.receive(&first)
		waitFor(t, "ERR_MSG_TIMEOUT", func() bool {
			n := 0
			for _, r := range sink.reports() {
				if r.CID() == cid && r.Command() == CmdError && r.Data()[0] == byte(ErrMsgTimeout) {
					n++
				}
			}
			return n == round
		})
		waitFor(t, "the watchdog to sleep", e.watch.asleep.Load)
	}
}

// TestWatchdogSkipsBlockedDevices: a device stuck writing to a host that
// does not read (its lock held) does not hold up the watchdog: another
// device's request still gets its KEEPALIVEs.
func TestWatchdogSkipsBlockedDevices(t *testing.T) {
	h := slowHandler{release: make(chan struct{})}
	e := newEngine(h, slog.New(slog.DiscardHandler))
	t.Cleanup(e.stop)
	e.keepalive = 20 * time.Millisecond
	e.watch.tick = 2 * time.Millisecond

	unblock := make(chan struct{})
	blocking := false
	var bmu sync.Mutex
	stuckSink := &replySink{}
	stuck := e.newDevice(func(msg []byte) bool {
		bmu.Lock()
		b := blocking
		bmu.Unlock()
		if b {
			<-unblock // a host that stopped reading
		}
		return stuckSink.send(msg)
	})
	stuckCID := allocateFor(stuck, stuckSink)
	req := InitReport(stuckCID, CmdCBOR, 1, []byte{0x01})
	stuck.receive(&req)
	bmu.Lock()
	blocking = true
	bmu.Unlock()
	// The first KEEPALIVE to the stuck device blocks in send, holding its lock.
	waitFor(t, "the stuck device's lock to be held", func() bool {
		if stuck.mu.TryLock() {
			stuck.mu.Unlock()
			return false
		}
		return true
	})

	sink := &replySink{}
	d := e.newDevice(sink.send)
	cid := allocateFor(d, sink)
	req = InitReport(cid, CmdCBOR, 1, []byte{0x01})
	d.receive(&req)
	waitFor(t, "KEEPALIVEs beside a stuck device", func() bool { return countKeepalives(sink, cid) >= 3 })

	close(unblock)
	h.release <- struct{}{}
	h.release <- struct{}{}
	e.tasks.Wait()
}
