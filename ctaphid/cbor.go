package ctaphid

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// transaction is a CTAPHID_CBOR request in flight (CTAP 2.1 §11.2.9.1.2)
// and the context its Handler runs in: cancelled by CTAPHID_CANCEL, by
// CTAPHID_INIT on its channel, when the reply has been sent, and with its
// device's context. It is a context of its own rather than
// context.WithCancel(context.WithValue(…)): an assertion takes some 60 µs,
// and those cost allocations, an entry in the device context's map of
// children and its lock, per request. Its Done channel is made only when
// a handler asks for it (one that waits for the user does); until then
// cancelling records the reason and nothing else.
type transaction struct {
	parent   context.Context // the device's
	cid      uint32
	upNeeded atomic.Bool // the handler called userNeeded

	mu   sync.Mutex
	err  error         // why it was cancelled, once it was
	done chan struct{} // made by the first Done
	stop func() bool   // ends the AfterFunc on parent that Done starts
}

// Deadline is the parent's: a transaction has none of its own.
func (t *transaction) Deadline() (time.Time, bool) { return t.parent.Deadline() }

// Done returns a channel closed when the transaction is cancelled.
func (t *transaction) Done() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done == nil {
		t.done = make(chan struct{})
		if t.err != nil {
			close(t.done)
		} else {
			t.stop = context.AfterFunc(t.parent, func() { t.cancelWith(t.parent.Err()) })
		}
	}
	return t.done
}

// Err returns nil until the transaction or its parent is cancelled, and then
// why; a cancelled parent cancels the transaction here, so that Err and Done
// agree.
func (t *transaction) Err() error {
	t.mu.Lock()
	err := t.err
	t.mu.Unlock()
	if err != nil {
		return err
	}
	if err = t.parent.Err(); err != nil {
		t.cancelWith(err)
		return t.err
	}
	return nil
}

// Value answers [ChannelFromContext] and asks the parent for anything else.
func (t *transaction) Value(key any) any {
	if _, ok := key.(channelKey); ok {
		return t.cid
	}
	return t.parent.Value(key)
}

// cancel cancels the transaction; later calls do nothing.
func (t *transaction) cancel() { t.cancelWith(context.Canceled) }

func (t *transaction) cancelWith(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	t.err = err
	if t.done != nil {
		close(t.done)
		t.stop()
	}
}

// cborJob is a CBOR request, for a worker or an inline device's reader.
type cborJob struct {
	t   *transaction
	req []byte
}

// startCBOR hands a CBOR message to the Handler, on the device's worker
// goroutine or, for an inline device, on the transport's reading goroutine
// once receive returns it; the device stays busy on cid until the reply is
// sent.
func (d *device) startCBOR(cid uint32, req []byte) {
	if len(req) == 0 {
		d.sendError(cid, ErrInvalidLen)
		return
	}
	if !d.e.addTask() {
		d.sendError(cid, ErrChannelBusy) // the server is shutting down
		return
	}
	t := &transaction{parent: d.ctx, cid: cid}
	d.txn = t
	d.watchBegin()
	job := cborJob{t: t, req: bytes.Clone(req)}
	if d.inline {
		d.pending = &job
		return
	}
	d.hire(job)
}

// run runs a request that receive returned, on the caller's goroutine.
func (d *device) run(job cborJob) {
	d.runCBOR(job.t, job.req)
	d.e.tasks.Done()
}

// worker is a goroutine that runs CBOR requests; it takes them from its
// channel, which holds at most one.
type worker chan cborJob

// hire gives job to the device's idle worker, or to a new one when there is
// none: the first request, or one that follows an abandoned request whose
// handler still runs. A worker outlives its request so that the stack the
// handler grew (ECDSA, CBOR) is reused rather than grown again each time.
func (d *device) hire(job cborJob) {
	if w := d.idle; w != nil {
		d.idle = nil
		w <- job // never blocks: an idle worker's channel is empty
		return
	}
	go d.work(make(worker, 1), job)
}

// work runs job, then waits for the device's next one while no other worker
// does, until the device closes.
func (d *device) work(w worker, job cborJob) {
	for {
		d.runCBOR(job.t, job.req)
		d.e.tasks.Done()
		if !d.becomeIdle(w) {
			return
		}
		var ok bool
		if job, ok = <-w; !ok {
			return
		}
	}
}

// becomeIdle makes w the device's idle worker, unless the device is closed
// or already has one.
func (d *device) becomeIdle(w worker) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.idle != nil {
		return false
	}
	d.idle = w
	return true
}

// runCBOR calls the Handler, then sends its reply. The Handler runs on this
// goroutine and the watchdog sends KEEPALIVE meanwhile (watch.go): a
// request costs no goroutine of its own and no timer.
func (d *device) runCBOR(t *transaction, req []byte) {
	defer t.cancel()
	resp := d.callHandler(t, req)
	d.finish(t, resp)
}

// callHandler calls ServeCTAP. A panicking handler gets ERR_OTHER instead of
// taking the daemon down.
func (d *device) callHandler(t *transaction, req []byte) (resp []byte) {
	defer func() {
		if p := recover(); p != nil {
			d.e.log.Error("ctaphid handler panicked", cidAttr(t.cid),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return d.e.handler.ServeCTAP(t, req, func() { t.upNeeded.Store(true) })
}

// keepaliveTick tells the host that the request in flight still runs, and
// whether the user is being asked (CTAP 2.1 §11.2.9.1.7); the watchdog
// calls it when one is due. A tick that races with the reply finds no
// request; one that finds the next request sends it an early KEEPALIVE,
// which hosts accept. It runs on a goroutine of its own (device.watchDo),
// so a host that does not read blocks only its own device.
func (d *device) keepaliveTick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.txn
	now := d.e.watch.now()
	if d.closed || t == nil || now < d.flight.kaDue.Load() {
		return
	}
	status := StatusProcessing
	if t.upNeeded.Load() {
		status = StatusUPNeeded
	}
	d.reply(t.cid, CmdKeepalive, []byte{status})
	d.flight.kaDue.Store(now + int64(d.e.keepalive))
}

// finish sends the Handler's reply with command byte CTAPHID_CBOR, unless
// the request was abandoned meanwhile.
func (d *device) finish(t *transaction, resp []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.txn != t {
		return
	}
	d.txn = nil
	d.watchEnd()
	if len(resp) == 0 || len(resp) > MaxMessageSize {
		d.e.log.Error("ctaphid handler reply unusable", cidAttr(t.cid), "len", len(resp))
		d.sendError(t.cid, ErrOther)
		return
	}
	d.logMessage("ctaphid reply", t.cid, CmdCBOR, len(resp))
	d.reply(t.cid, CmdCBOR, resp)
}

// abandonTransaction cancels the request in flight and drops its reply.
func (d *device) abandonTransaction() {
	if d.txn != nil {
		d.txn.cancel()
		d.txn = nil
		d.watchEnd()
	}
}
