package bench

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

// worker is one client: a connection, its channel, and what it recorded.
type worker struct {
	socket string
	mix    float64
	creds  []*Credential
	r      *mrand.Rand
	rnd    *mrand.ChaCha8
	buf    []byte // the request being sent
	reply  []byte // the reply being read

	// hc and nc are read by the worker without mu, and replaced by it
	// under mu; mu keeps the replacement apart from closeAll, which a
	// cancelled run calls from another goroutine.
	mu sync.Mutex
	hc *hidclient.Client
	nc net.Conn // hc's connection

	assertLat, regLat []time.Duration
	errs              map[string]int
	fatal             error // the connection was lost and could not be remade
}

func newWorker(cfg Config, creds []*Credential, seed uint64) *worker {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	rnd := mrand.NewChaCha8(key)
	return &worker{socket: cfg.Socket, mix: cfg.Mix, creds: creds, rnd: rnd,
		r: mrand.New(mrand.NewPCG(seed, uint64(time.Now().UnixNano()))), errs: map[string]int{}}
}

// warm connects and does one operation untimed.
func (w *worker) warm(ctx context.Context) error {
	if err := w.dial(ctx); err != nil {
		return err
	}
	msg, err := w.request(w.mix >= 1)
	if err == nil {
		err = w.transact(ctx, msg)
	}
	if err != nil {
		return fmt.Errorf("bench: the daemon refused a warm-up operation: %w", err)
	}
	return nil
}

// dial makes the worker's connection and allocates its channel.
func (w *worker) dial(ctx context.Context) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", w.socket)
	if err != nil {
		return fmt.Errorf("bench: failed to connect: %w", err)
	}
	hc, err := hidclient.NewContext(ctx, nc)
	if err != nil {
		_ = nc.Close()
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hc, w.nc = hc, nc
	return nil
}

func (w *worker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hc != nil {
		_ = w.hc.Close()
	}
}

// loop does operations until the plan says stop. Its transactions run
// without ctx's cancellation, which [Run] enforces by closing the
// connection instead.
func (w *worker) loop(ctx context.Context, p *plan) {
	uncancelled := context.WithoutCancel(ctx)
	for w.fatal == nil && p.take(ctx) {
		reg := w.pick()
		began := time.Now()
		msg, err := w.request(reg)
		if err == nil {
			err = w.transact(uncancelled, msg)
		}
		took := time.Since(began)
		if ctx.Err() != nil {
			return // interrupted, not failed
		}
		if w.record(reg, took, err) {
			w.redial(ctx)
		}
		p.done.Add(1)
	}
}

// pick says whether the next operation is a registration.
func (w *worker) pick() bool { return w.mix > 0 && w.r.Float64() < w.mix }

// request returns the message of one registration or assertion, in
// memory the worker reuses for the next.
func (w *worker) request(reg bool) ([]byte, error) {
	if reg {
		return registration(w.rnd, w.r.IntN(benchRPs))
	}
	w.buf = w.creds[w.r.IntN(len(w.creds))].assertion(w.buf, w.rnd)
	return w.buf, nil
}

// transact sends msg and checks the status byte of the reply.
func (w *worker) transact(ctx context.Context, msg []byte) error {
	reply, err := w.hc.AppendCBOR(ctx, w.reply[:0], msg, nil)
	w.reply = reply
	if err != nil {
		return err
	}
	return checkReply(reply)
}

// checkReply returns the CTAP status of a reply as an error.
func checkReply(reply []byte) error {
	switch {
	case len(reply) == 0:
		return fmt.Errorf("%w: an empty reply", hidclient.ErrUnexpectedResponse)
	case reply[0] != byte(ctap.StatusOK):
		return ctap.Status(reply[0])
	}
	return nil
}

// record notes an operation that took took and ended with err, and says
// whether the connection is broken.
func (w *worker) record(reg bool, took time.Duration, err error) (broken bool) {
	switch {
	case err != nil:
		name := errorName(err)
		w.errs[name]++
		return name == "transport"
	case reg:
		w.regLat = append(w.regLat, took)
	default:
		w.assertLat = append(w.assertLat, took)
	}
	return false
}

// redial replaces a broken connection; if it cannot, the worker stops.
func (w *worker) redial(ctx context.Context) {
	w.close()
	if err := w.dial(ctx); err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.hc, w.nc, w.fatal = nil, nil, err
	}
}

// errorName is how an error is counted: its CTAP status, its CTAPHID
// error, or "transport" for anything that broke the connection.
func errorName(err error) string {
	var st ctap.Status
	if errors.As(err, &st) {
		return st.Name()
	}
	var code ctaphid.ErrorCode
	if errors.As(err, &code) {
		return "CTAPHID " + code.Name()
	}
	return "transport"
}
