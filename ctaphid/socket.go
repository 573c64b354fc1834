package ctaphid

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Per-connection bounds.
const (
	// writeTimeout bounds the write of one message to a host that does not
	// read its replies; the connection is then dropped. The kernel's socket
	// buffers hold hundreds of reports before a write waits at all.
	writeTimeout = 10 * time.Second
	// socketBuffer lets one system call carry up to 16 reports: a whole
	// CTAP request, instead of one call per 64 bytes.
	socketBuffer = 16 * ReportSize
)

// Serve accepts connections on l, a stream listener such as the one
// [ListenUnix] returns, and serves each as one host handle: 64-byte reports
// back to back in both directions, no report-ID byte. It returns
// [ErrServerClosed] after [Server.Shutdown], or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		closeQuietly(l)
		return ErrServerClosed
	}
	defer s.untrack(l)
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if backoff, err = s.acceptFailed(err, backoff); err != nil {
				return err
			}
			continue
		}
		backoff = 0
		s.startConn(nc)
	}
}

// acceptFailed decides whether Serve goes on after an Accept error (too
// many open files, an aborted connection) and sleeps before it does.
func (s *Server) acceptFailed(err error, backoff time.Duration) (time.Duration, error) {
	if s.isClosing() {
		return 0, ErrServerClosed
	}
	if errors.Is(err, net.ErrClosed) {
		return 0, err
	}
	backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
	s.log.Warn("ctaphid accept failed; retrying", "err", err, "in", backoff)
	time.Sleep(backoff)
	return backoff, nil
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// conn is one socket connection: one host handle.
//
// One goroutine reads the connection at a time. It runs a CBOR request
// itself, so that a fast request (an assertion) costs no hand-off between
// goroutines, and replies are written by whichever goroutine makes them,
// under the device's lock, one system call per message. A request that runs
// longer than 10 ms (one that asks the user, a registration waiting for the
// disk) hands reading over to a new goroutine when the watchdog finds it
// (watch.go), so that CTAPHID_CANCEL, INIT and other channels are served
// meanwhile; the old goroutine ends after the reply. Asking the user takes
// seconds, so a CANCEL waits at most some 15 ms more than with a reader
// always ready.
type conn struct {
	s       *Server
	nc      net.Conn
	br      *bufio.Reader // owned by the reading goroutine
	dev     *device
	once    sync.Once
	dropped atomic.Bool

	state atomic.Int32 // readerIdle, readerRunning or readerHandedOver
}

// conn.state values: the reading goroutine waits for reports, runs a
// request, or runs one and has handed reading over.
const (
	readerIdle int32 = iota
	readerRunning
	readerHandedOver
)

// startConn starts serving nc, unless the server is full or closing.
func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || len(s.conns) >= s.maxConns {
		s.log.Warn("ctaphid connection refused", "conns", len(s.conns), "closing", s.closing)
		closeQuietly(nc)
		return
	}
	c := &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, socketBuffer)}
	c.dev = s.e.newDevice(c.send)
	c.dev.inline = true
	c.dev.slow = c.handOver
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go c.readLoop()
	s.log.Debug("ctaphid connection opened", "conns", len(s.conns))
}

// readLoop feeds the device whole reports and runs the CBOR requests they
// complete, until the connection ends or reading is handed over.
func (c *conn) readLoop() {
	defer c.s.wg.Done()
	var r Report
	for {
		if _, err := io.ReadFull(c.br, r[:]); err != nil {
			c.s.log.Debug("ctaphid connection closed", "err", err)
			c.finish()
			c.forget()
			return
		}
		c.dev.backlog.Store(c.br.Buffered() >= ReportSize)
		if job, ok := c.dev.receive(&r); ok && !c.runInline(job) {
			return // another goroutine reads now
		}
	}
}

// runInline runs a CBOR request on the reading goroutine and reports
// whether this goroutine still reads the connection afterwards.
func (c *conn) runInline(job cborJob) bool {
	c.state.Store(readerRunning)
	c.dev.run(job)
	return c.state.CompareAndSwap(readerRunning, readerIdle)
}

// handOver starts a new reading goroutine while the reader runs a request
// that takes long; it does nothing otherwise, or the second time.
func (c *conn) handOver() {
	if c.state.CompareAndSwap(readerRunning, readerHandedOver) {
		c.s.wg.Add(1) // the running reader still counts: Shutdown's Wait allows it
		go c.readLoop()
	}
}

// send is the device's send, called under the device's lock: it writes a
// whole message, and drops a connection whose host has not read its
// replies for writeTimeout.
func (c *conn) send(msg []byte) bool {
	if c.dropped.Load() {
		return false
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.nc.Write(msg); err != nil {
		c.drop("write failed", err)
		return false
	}
	return true
}

// drop closes the connection; the reading goroutine then cleans up.
func (c *conn) drop(why string, err error) {
	if c.dropped.CompareAndSwap(false, true) {
		c.s.log.Warn("ctaphid connection dropped", "why", why, "err", err)
	}
	closeQuietly(c.nc)
}

// finish closes the device, cancelling its request, and the connection.
// Replies are written as they are made, so nothing is left to flush.
func (c *conn) finish() {
	c.once.Do(func() {
		c.dev.close()
		closeQuietly(c.nc)
	})
}

func (c *conn) forget() {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
}
