package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"time"

	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/hidclient"
)

const haveEventLoop = true

// eventLoop runs every worker's operations from one goroutine, over one
// epoll instance; see [Run] for why. Each worker keeps its own connection
// and channel, and at most one request on it, as on a goroutine of its
// own: the daemon is asked the same.
//
// The loop takes the workers' connections out of the Go runtime's network
// poller and reads and writes them with plain system calls. A worker whose
// connection breaks makes a new one through hidclient, as on its own
// goroutine, and hands it over in the same way; the loop waits for that.
type eventLoop struct {
	ctx    context.Context
	p      *plan
	ep     int    // the epoll instance
	wake   [2]int // a pipe; cancelling ctx closes the write end
	stop   func() bool
	conns  []*loopConn
	busy   int // connections with a request in flight
	events []syscall.EpollEvent
}

// loopConn is one worker's connection while the event loop drives it.
type loopConn struct {
	w     *worker
	i     int // in eventLoop.conns, and the data of its epoll events
	fd    int // -1 when the worker has none
	busy  bool
	cid   uint32
	out   []byte // the request being written, framed
	in    [16 * ctaphid.ReportSize]byte
	nin   int // bytes in in
	asm   hidclient.Reassembler
	reg   bool
	began time.Time
}

// yieldEvery is how often the loop lets the scheduler run. A goroutine
// that has not been rescheduled for 10 ms counts as running too long for
// the runtime's monitor, which then takes its processor while it waits in
// epoll_wait and afterwards polls every 20 µs for a while, at a cost to
// the clients' CPU time.
const yieldEvery = 5 * time.Millisecond

// wakeData marks the pipe's events; a connection's are its index.
const wakeData = -1

// newEventLoop takes over the connections of ws, for [eventLoop.run] to
// drive them according to p.
func newEventLoop(ctx context.Context, p *plan, ws []*worker) (*eventLoop, error) {
	l, err := openEventLoop(ctx, p)
	if err != nil {
		return nil, err
	}
	for i, w := range ws {
		c := &loopConn{w: w, i: i, fd: -1}
		l.conns = append(l.conns, c)
		if err := l.adopt(c); err != nil {
			l.close()
			return nil, err
		}
	}
	return l, nil
}

// openEventLoop makes the epoll instance and the pipe that wakes it when
// ctx ends.
func openEventLoop(ctx context.Context, p *plan) (*eventLoop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("bench: epoll: %w", err)
	}
	l := &eventLoop{ctx: ctx, p: p, ep: ep}
	if err := syscall.Pipe2(l.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(ep)
		return nil, fmt.Errorf("bench: pipe: %w", err)
	}
	if err := l.watch(l.wake[0], wakeData); err != nil {
		l.closeFDs()
		return nil, err
	}
	l.stop = context.AfterFunc(ctx, func() { _ = syscall.Close(l.wake[1]) })
	return l, nil
}

func (l *eventLoop) watch(fd, data int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(data)}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("bench: epoll: %w", err)
	}
	return nil
}

func (l *eventLoop) close() {
	for _, c := range l.conns {
		c.closeFD()
	}
	if l.stop() {
		_ = syscall.Close(l.wake[1]) // else the AfterFunc closed it
	}
	l.closeFDs()
}

func (l *eventLoop) closeFDs() {
	_ = syscall.Close(l.wake[0])
	_ = syscall.Close(l.ep)
}

func (c *loopConn) closeFD() {
	if c.fd >= 0 {
		_ = syscall.Close(c.fd)
		c.fd = -1
	}
}

// adopt takes over the connection of c's worker.
func (l *eventLoop) adopt(c *loopConn) error {
	fd, err := detach(c.w)
	if err != nil {
		return err
	}
	c.fd, c.cid, c.nin = fd, c.w.hc.CID(), 0
	return l.watch(fd, c.i)
}

// detach returns a descriptor of w's connection of its own, outside the
// runtime's poller, and closes the connection.
func detach(w *worker) (int, error) {
	sc, ok := w.nc.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("bench: %T has no descriptor", w.nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	err = rc.Control(func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			derr = errno
			return
		}
		fd = int(r)
	})
	w.close() // the runtime forgets the original; the duplicate stays non-blocking
	if err = errors.Join(err, derr); err != nil {
		if fd >= 0 {
			_ = syscall.Close(fd)
		}
		return -1, fmt.Errorf("bench: failed to take over a connection: %w", err)
	}
	return fd, nil
}

// next starts c's next operation, if the plan allows one.
func (l *eventLoop) next(c *loopConn) {
	for c.w.fatal == nil && l.p.take(l.ctx) {
		err := c.send()
		if err == nil {
			c.busy = true
			l.busy++
			return
		}
		if l.finish(c, nil, err) {
			return // the run was cancelled
		}
	}
	if c.fd >= 0 { // done: its events are of no more interest
		_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, c.fd, nil)
	}
}

// send writes c's next request.
func (c *loopConn) send() error {
	c.reg = c.w.pick()
	c.began = time.Now()
	msg, err := c.w.request(c.reg)
	if err != nil {
		return err
	}
	if c.out, err = ctaphid.AppendMessage(c.out[:0], c.cid, ctaphid.CmdCBOR, msg); err != nil {
		return err
	}
	c.asm.Start(c.w.reply[:0], c.cid, ctaphid.CmdCBOR, nil)
	return writeAll(c.fd, c.out)
}

// writeAll writes b to the non-blocking fd, blocking if the socket is
// full, which one small request at a time never makes it.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		switch {
		case err == syscall.EAGAIN: // wait, as a blocking write would
			if err := syscall.SetNonblock(fd, false); err != nil {
				return err
			}
			defer syscall.SetNonblock(fd, true)
		case err == syscall.EINTR:
		case err != nil:
			return fmt.Errorf("bench: failed to send: %w", err)
		default:
			b = b[n:]
		}
	}
	return nil
}

// finish records c's operation, which ended with reply or err, remaking
// the connection if it broke. It says whether the run was cancelled, in
// which case nothing is recorded.
func (l *eventLoop) finish(c *loopConn, reply []byte, err error) (cancelled bool) {
	took := time.Since(c.began)
	if l.ctx.Err() != nil {
		return true
	}
	if err == nil {
		c.w.reply = reply
		err = checkReply(reply)
	}
	if c.w.record(c.reg, took, err) {
		l.redial(c)
	}
	l.p.done.Add(1)
	return false
}

// redial replaces c's broken connection, as a worker's goroutine would.
func (l *eventLoop) redial(c *loopConn) {
	c.closeFD()
	c.w.redial(l.ctx)
	if c.w.fatal != nil {
		return
	}
	if err := l.adopt(c); err != nil {
		c.w.fatal = err
	}
}

// run starts an operation on every connection and goes on until the plan
// says stop and no request is in flight, or ctx ends.
func (l *eventLoop) run() error {
	for _, c := range l.conns {
		l.next(c)
	}
	l.events = make([]syscall.EpollEvent, len(l.conns)+1)
	yielded := time.Now()
	for l.busy > 0 {
		if time.Since(yielded) > yieldEvery {
			runtime.Gosched()
			yielded = time.Now()
		}
		n, err := syscall.EpollWait(l.ep, l.events, -1)
		if err == syscall.EINTR {
			continue
		} else if err != nil {
			return fmt.Errorf("bench: epoll: %w", err)
		}
		for _, ev := range l.events[:n] {
			if ev.Fd == wakeData || l.ctx.Err() != nil {
				return l.ctx.Err()
			}
			if l.readable(l.conns[ev.Fd]) {
				return l.ctx.Err()
			}
		}
	}
	return nil
}

// readable reads what has come on c and, if that completes the reply,
// finishes the operation and starts the next. It says whether the run was
// cancelled.
func (l *eventLoop) readable(c *loopConn) (cancelled bool) {
	if !c.busy {
		return false // an event from before the last operation
	}
	reply, done, err := c.receive()
	if !done && err == nil {
		return false
	}
	c.busy = false
	l.busy--
	if l.finish(c, reply, err) {
		return true
	}
	l.next(c)
	return l.ctx.Err() != nil
}

// receive reads once from c and passes every whole report to the
// reassembler, keeping a partial one for the next read.
func (c *loopConn) receive() (reply []byte, done bool, err error) {
	n, err := syscall.Read(c.fd, c.in[c.nin:])
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("bench: failed to read: %w", err)
	case n == 0:
		return nil, false, fmt.Errorf("bench: failed to read: %w", io.ErrUnexpectedEOF)
	}
	c.nin += n
	off := 0
	for ; off+ctaphid.ReportSize <= c.nin && !done && err == nil; off += ctaphid.ReportSize {
		reply, done, err = c.asm.Add((*ctaphid.Report)(c.in[off:]))
	}
	c.nin = copy(c.in[:], c.in[off:c.nin]) // what follows the reply stays for the next
	return reply, done, err
}
