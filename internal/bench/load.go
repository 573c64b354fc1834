package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoPool means a run with assertions was given no credentials to assert
// with; make them with [WarmUp].
var ErrNoPool = errors.New("bench: assertions need credentials from a warm-up")

// progressEvery is how often [Config.Progress] is called.
const progressEvery = 100 * time.Millisecond

// Config is one load run against a running daemon.
type Config struct {
	Socket string // the daemon's ctaphid.sock
	// DaemonPID, if not 0, is the daemon's process, whose CPU time the
	// run reads from /proc (see [DaemonPID]).
	DaemonPID int
	Clients   int           // connections, each with its own channel
	Mix       float64       // fraction of operations that are registrations, 0 to 1
	Count     int           // operations in all; 0 runs for Duration instead
	Duration  time.Duration // used when Count is 0
	// Progress, if set, hears how many operations have completed, every
	// 100 ms and once at the end, from one goroutine.
	Progress func(done int64)
}

// Kind is what one kind of operation did in a run.
type Kind struct {
	Count   int     `json:"count"`  // successful operations
	PerSec  float64 `json:"perSec"` // successful operations per second of the run
	Latency Latency `json:"latency"`
	// OfBaseline is PerSec divided by the parallel baseline of this kind
	// (signing for assertions, key generation and signing for
	// registrations); see [Result.Compare].
	OfBaseline float64 `json:"ofBaseline"`
}

// Result is what one run measured.
type Result struct {
	Clients       int            `json:"clients"`
	Mix           float64        `json:"mix"`
	Seconds       float64        `json:"seconds"`
	OpsPerSec     float64        `json:"opsPerSec"` // successful operations of both kinds
	Assertions    Kind           `json:"assertions"`
	Registrations Kind           `json:"registrations"`
	Latency       Latency        `json:"latency"`          // every successful operation
	Errors        map[string]int `json:"errors,omitempty"` // by CTAP status, CTAPHID error or "transport"
	// Efficiency is the sum over both kinds of OfBaseline: the share of
	// the machine's raw ECDSA capacity the daemon turned into answers.
	// For a run of one kind it is that kind's OfBaseline.
	Efficiency float64 `json:"efficiency"`
	// Bracket, if measured, holds the parallel baselines taken just
	// before and after this run.
	Bracket *Bracket `json:"bracket,omitempty"`
	// CPU is the CPU time the daemon and the clients used, when the
	// daemon's process is known.
	CPU *CPU `json:"cpu,omitempty"`
	// CPUEfficiency is the CPU time the baseline needs for this run's
	// answers divided by the CPU time the daemon and the clients used;
	// DaemonCPUEfficiency counts the daemon's CPU time only, as if the
	// clients ran on another machine. Zero without CPU figures.
	CPUEfficiency       float64 `json:"cpuEfficiency,omitempty"`
	DaemonCPUEfficiency float64 `json:"daemonCpuEfficiency,omitempty"`
	// Driver is how the load clients ran: [DriverEventLoop] or
	// [DriverGoroutines].
	Driver string `json:"driver,omitempty"`
}

// How the load clients of a run ran; see [Run].
const (
	// DriverEventLoop is one goroutine driving every connection through
	// epoll (Linux).
	DriverEventLoop = "event loop"
	// DriverGoroutines is one goroutine per connection, through the Go
	// runtime's network poller.
	DriverGoroutines = "goroutines"
)

// useEventLoop says whether [Run] drives the clients from one event loop;
// tests turn it off to cover the goroutines.
var useEventLoop = haveEventLoop

// Compare fills in the ratios: against the mean of r.Bracket where it has
// a figure, else against b.
func (r *Result) Compare(b Baseline) {
	p := Parallel{Sign: b.SignParallel, KeygenSign: b.KeygenSignParallel,
		SignCPUMicros: b.SignCPUMicros, KeygenSignCPUMicros: b.KeygenSignCPUMicros}
	if r.Bracket != nil {
		m := r.Bracket.mean()
		for _, f := range []struct{ dst, src *float64 }{{&p.Sign, &m.Sign}, {&p.KeygenSign, &m.KeygenSign},
			{&p.SignCPUMicros, &m.SignCPUMicros}, {&p.KeygenSignCPUMicros, &m.KeygenSignCPUMicros}} {
			if *f.src > 0 {
				*f.dst = *f.src
			}
		}
	}
	r.Assertions.OfBaseline = ratio(r.Assertions.PerSec, p.Sign)
	r.Registrations.OfBaseline = ratio(r.Registrations.PerSec, p.KeygenSign)
	r.Efficiency = r.Assertions.OfBaseline + r.Registrations.OfBaseline
	if r.CPU != nil {
		work := (float64(r.Assertions.Count)*p.SignCPUMicros + float64(r.Registrations.Count)*p.KeygenSignCPUMicros) / 1e6
		r.CPUEfficiency = ratio(work, r.CPU.DaemonSeconds+r.CPU.ClientSeconds)
		r.DaemonCPUEfficiency = ratio(work, r.CPU.DaemonSeconds)
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ErrorCount returns the number of failed operations.
func (r *Result) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// Run drives the daemon on cfg.Socket with cfg.Clients connections until
// cfg.Count operations have completed or cfg.Duration has passed.
// Assertions pick uniformly among creds. Every connection first does one
// untimed operation, so that a daemon that refuses is reported before
// anything is timed.
//
// Each connection has at most one request in flight and sends the next as
// soon as it has the reply. On Linux one goroutine drives them all through
// epoll, which costs the clients about a third less CPU time per operation
// than a goroutine per connection (no read that finds nothing before each
// reply, no wake-ups of other threads, no scheduling between goroutines):
// CPU time that, on a machine the clients share with the daemon, is taken
// from the daemon. Elsewhere each connection has a goroutine.
func Run(ctx context.Context, cfg Config, creds []*Credential) (*Result, error) {
	if cfg.Clients < 1 || cfg.Mix < 0 || cfg.Mix > 1 || (cfg.Count <= 0 && cfg.Duration <= 0) {
		return nil, fmt.Errorf("bench: invalid run: %d clients, mix %v, count %d, duration %v", cfg.Clients, cfg.Mix, cfg.Count, cfg.Duration)
	}
	if cfg.Mix < 1 && len(creds) == 0 {
		return nil, ErrNoPool
	}
	ws, err := connect(ctx, cfg, creds)
	defer closeAll(ws)
	if err != nil {
		return nil, err
	}
	// Cancelling the run closes every connection once, which interrupts
	// the reads blocked on them; the workers' transactions are then spared
	// a cancellation to arm and disarm each (see [worker.loop]). The event
	// loop has a wake-up of its own.
	defer context.AfterFunc(ctx, func() { closeAll(ws) })()
	p := &plan{count: int64(cfg.Count)}
	drive, driver := func() error { goroutines(ctx, p, ws); return nil }, DriverGoroutines
	if useEventLoop {
		l, err := newEventLoop(ctx, p, ws)
		if err != nil {
			return nil, err
		}
		defer l.close()
		drive, driver = l.run, DriverEventLoop
	}
	stopProgress := p.report(cfg.Progress)
	cpu := startCPU(cfg.DaemonPID)
	start := time.Now()
	p.deadline = start.Add(cfg.Duration)
	err = drive()
	took := time.Since(start)
	used := cpu.stop()
	stopProgress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	r, err := collect(cfg, ws, took)
	if r != nil {
		r.CPU, r.Driver = used, driver
	}
	return r, err
}

// goroutines runs each worker on a goroutine of its own until the plan
// says stop.
func goroutines(ctx context.Context, p *plan, ws []*worker) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.loop(ctx, p) })
	}
	wg.Wait()
}

// connect dials every client and checks each with one untimed operation.
func connect(ctx context.Context, cfg Config, creds []*Credential) ([]*worker, error) {
	ws := make([]*worker, cfg.Clients)
	errs := make([]error, cfg.Clients)
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = newWorker(cfg, creds, uint64(i))
		wg.Go(func() { errs[i] = ws[i].warm(ctx) })
	}
	wg.Wait()
	return ws, errors.Join(errs...)
}

// closeAll closes every worker's connection.
func closeAll(ws []*worker) {
	for _, w := range ws {
		w.close()
	}
}

// collect merges what the workers recorded.
func collect(cfg Config, ws []*worker, took time.Duration) (*Result, error) {
	r := &Result{Clients: cfg.Clients, Mix: cfg.Mix, Seconds: took.Seconds(), Errors: map[string]int{}}
	var asserts, regs []time.Duration
	var fatal []error
	for _, w := range ws {
		asserts = append(asserts, w.assertLat...)
		regs = append(regs, w.regLat...)
		for k, n := range w.errs {
			r.Errors[k] += n
		}
		if w.fatal != nil {
			fatal = append(fatal, w.fatal)
		}
	}
	if len(fatal) == len(ws) {
		return nil, fmt.Errorf("bench: every client lost its connection: %w", errors.Join(fatal...))
	}
	all := append(append([]time.Duration{}, asserts...), regs...)
	r.Assertions = Kind{Count: len(asserts), PerSec: float64(len(asserts)) / took.Seconds(), Latency: summarize(asserts)}
	r.Registrations = Kind{Count: len(regs), PerSec: float64(len(regs)) / took.Seconds(), Latency: summarize(regs)}
	r.OpsPerSec = float64(len(all)) / took.Seconds()
	r.Latency = summarize(all)
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	return r, nil
}

// plan hands out operations to the workers and counts what they completed.
type plan struct {
	count    int64
	deadline time.Time
	issued   atomic.Int64
	done     atomic.Int64
}

// take reports whether a worker may start another operation.
func (p *plan) take(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.count > 0 {
		return p.issued.Add(1) <= p.count
	}
	return time.Now().Before(p.deadline)
}

// report calls progress every progressEvery until the returned function is
// called, which makes the last call.
func (p *plan) report(progress func(int64)) (stop func()) {
	if progress == nil {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				progress(p.done.Load())
			case <-quit:
				progress(p.done.Load())
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
	}
}
