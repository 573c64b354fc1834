package ctaphid

import (
	"sync"
	"sync/atomic"
	"time"
)

// The watchdog: one goroutine per server looks at the devices every tick
// while anything is in flight. It sends a CBOR request a KEEPALIVE when one
// is due (CTAP 2.1 §11.2.9.1.7), calls a device's slow hook (a socket's
// hand-over of reading, see conn.runInline) once a request has run for
// slowAfter, and times out a message whose next packet is late (§11.2.5.2).
// A request or a message costs a few atomic stores, not a timer: on these
// virtual machines arming and stopping timers around every request cost
// more CPU than the rest of the socket path together, because each change
// wakes the thread that sleeps in the network poller. The watchdog sleeps
// when nothing has been in flight for watchIdle, and the next request or
// message wakes it.

const (
	// defaultWatchTick is how often the watchdog looks while requests run.
	defaultWatchTick = 5 * time.Millisecond
	// defaultSlowAfter is how long a request runs before its device's slow
	// hook is called.
	defaultSlowAfter = 10 * time.Millisecond
	// watchIdle is how long the watchdog keeps ticking with nothing in
	// flight before it sleeps.
	watchIdle = 100 * time.Millisecond
)

// watchdog is the engine's part; each device carries an inFlight.
type watchdog struct {
	epoch     time.Time // monotonic clock origin of inFlight's times
	tick      time.Duration
	slowAfter time.Duration

	mu      sync.Mutex
	devices map[*device]struct{} // every open device
	seen    []*device            // reused by watchCheck, on the goroutine

	started atomic.Bool // the goroutine exists

	starts atomic.Uint64 // requests begun, ever
	asleep atomic.Bool   // the goroutine waits on wake
	wake   chan struct{}
}

// inFlight is what a device tells the watchdog about its request in flight.
// The watchdog reads it without the device's lock.
type inFlight struct {
	since    atomic.Int64 // watchdog clock at the start; 0 when nothing runs
	kaDue    atomic.Int64 // when the next KEEPALIVE is due
	slowDone atomic.Bool  // the slow hook was called for this request
	msgDue   atomic.Int64 // when the message being reassembled times out; 0: none
	working  atomic.Bool  // a goroutine of watchDo runs for the device
}

func (w *watchdog) init() {
	w.epoch = time.Now()
	w.tick, w.slowAfter = defaultWatchTick, defaultSlowAfter
	w.devices = make(map[*device]struct{})
	w.wake = make(chan struct{}, 1)
}

// now is the watchdog clock: nanoseconds since epoch, never 0.
func (w *watchdog) now() int64 { return int64(time.Since(w.epoch)) + 1 }

// add and remove keep the set of devices the watchdog looks at.
func (w *watchdog) add(d *device) {
	w.mu.Lock()
	w.devices[d] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(d *device) {
	w.mu.Lock()
	delete(w.devices, d)
	w.mu.Unlock()
}

// watchBegin marks the start of d's request; it is called under d.mu.
func (d *device) watchBegin() {
	w := &d.e.watch
	now := w.now()
	d.flight.slowDone.Store(false)
	d.flight.kaDue.Store(now + int64(max(d.e.keepalive-w.tick, w.tick))) // due before the interval ends
	d.flight.since.Store(now)
	d.e.watchPoke()
}

// watchEnd marks the end of d's request; it is called under d.mu.
func (d *device) watchEnd() { d.flight.since.Store(0) }

// armTimeout (re)starts the wait for the next packet of d's message; the
// watchdog calls expire when it passes. It is called under d.mu.
func (d *device) armTimeout() {
	d.flight.msgDue.Store(d.e.watch.now() + int64(d.e.msgTimeout))
	d.e.watchPoke()
}

// watchPoke tells the watchdog that something is in flight: it starts the
// goroutine, or wakes it.
func (e *engine) watchPoke() {
	w := &e.watch
	w.starts.Add(1)
	if w.asleep.Load() && w.asleep.CompareAndSwap(true, false) {
		w.wake <- struct{}{} // never blocks: only the one who flips asleep sends
		return
	}
	if !w.started.Load() && w.started.CompareAndSwap(false, true) {
		go e.watchLoop()
	}
}

// watchLoop ticks while requests run, sleeps when none has for watchIdle,
// and ends with the engine.
func (e *engine) watchLoop() {
	w := &e.watch
	t := time.NewTicker(w.tick)
	defer t.Stop()
	idle, lastStarts := time.Duration(0), w.starts.Load()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		busy := e.watchCheck()
		if starts := w.starts.Load(); busy || starts != lastStarts {
			idle, lastStarts = 0, starts
			continue
		}
		if idle += w.tick; idle < watchIdle {
			continue
		}
		if !e.watchSleep(t) {
			return
		}
		idle, lastStarts = 0, w.starts.Load()
	}
}

// watchSleep waits for the next request, or the engine's end (false).
func (e *engine) watchSleep(t *time.Ticker) bool {
	w := &e.watch
	t.Stop()
	w.asleep.Store(true)
	if e.watchCheck() && w.asleep.CompareAndSwap(true, false) {
		t.Reset(w.tick) // a request began meanwhile and did not wake us
		return true
	}
	select {
	case <-e.ctx.Done():
		return false
	case <-w.wake:
		t.Reset(w.tick)
		return true
	}
}

// watchCheck acts on the requests in flight and reports whether any runs.
func (e *engine) watchCheck() bool {
	w := &e.watch
	w.mu.Lock()
	w.seen = w.seen[:0]
	for d := range w.devices {
		if d.flight.since.Load() != 0 || d.flight.msgDue.Load() != 0 {
			w.seen = append(w.seen, d)
		}
	}
	seen := w.seen
	w.mu.Unlock() // seen is used by this goroutine only
	now := w.now()
	for _, d := range seen {
		if due := d.flight.msgDue.Load(); due != 0 && now >= due {
			d.watchDo(d.expire)
		}
		since := d.flight.since.Load()
		if since == 0 {
			continue
		}
		if d.slow != nil && now-since >= int64(w.slowAfter) && d.flight.slowDone.CompareAndSwap(false, true) {
			d.slow()
		}
		if now >= d.flight.kaDue.Load() {
			d.watchDo(d.keepaliveTick)
		}
	}
	return len(seen) > 0
}

// watchDo runs f, which sends to d's host, on a goroutine of its own, unless
// one that the watchdog started for d still runs: a host that does not read
// its replies blocks that goroutine (until its write times out), not the
// watchdog and every other device with it. It happens once a KEEPALIVE
// interval for a request that runs long, or when a message times out.
func (d *device) watchDo(f func()) {
	if d.flight.working.CompareAndSwap(false, true) {
		go func() {
			defer d.flight.working.Store(false)
			f()
		}()
	}
}
