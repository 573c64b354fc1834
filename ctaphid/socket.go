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
	// outQueueSize bounds the reports waiting for a slow reader: two
	// maximum-size messages (129 reports each) fit. A connection whose
	// queue overflows is dropped.
	outQueueSize = 2 * (1 + MaxSeq + 1)
	// writeTimeout bounds one report write to a reader that does not read.
	writeTimeout = 10 * time.Second
	// socketBuffer lets one system call carry up to 16 reports each way:
	// a whole CTAP message, instead of one call per 64 bytes.
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
type conn struct {
	s       *Server
	nc      net.Conn
	dev     *device
	out     chan Report // reports for the writer; closed by finish
	once    sync.Once
	dropped atomic.Bool
}

// startConn starts serving nc, unless the server is full or closing.
func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || len(s.conns) >= s.maxConns {
		s.log.Warn("ctaphid connection refused", "conns", len(s.conns), "closing", s.closing)
		closeQuietly(nc)
		return
	}
	c := &conn{s: s, nc: nc, out: make(chan Report, outQueueSize)}
	c.dev = s.e.newDevice(c.enqueue)
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
	s.log.Debug("ctaphid connection opened", "conns", len(s.conns))
}

// readLoop feeds the device whole reports until the connection ends.
func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer c.forget()
	defer c.finish()
	var r Report
	br := bufio.NewReaderSize(c.nc, socketBuffer)
	for {
		if _, err := io.ReadFull(br, r[:]); err != nil {
			c.s.log.Debug("ctaphid connection closed", "err", err)
			return
		}
		c.dev.backlog.Store(br.Buffered() >= ReportSize)
		c.dev.receive(&r)
	}
}

// writeLoop writes queued reports until finish closes the queue, then
// closes the connection.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	defer closeQuietly(c.nc)
	bw := bufio.NewWriterSize(c.nc, socketBuffer)
	var r Report // one for the loop: bw.Write makes it escape
	for r = range c.out {
		bw.Write(r[:]) // never fails: the buffer always has room for a report here
		if len(c.out) > 0 && bw.Available() >= ReportSize {
			continue // more are queued: send them with this one
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := bw.Flush(); err != nil {
			c.drop("write failed", err)
			return
		}
	}
}

// enqueue is the device's send: it never blocks, and drops a connection
// whose reader cannot keep up. The device calls it under its lock, and
// never after close, so it never meets a closed queue.
func (c *conn) enqueue(r *Report) bool {
	select {
	case c.out <- *r:
		return true
	default:
		c.drop("reader too slow", nil)
		return false
	}
}

// drop closes the connection; the read loop then cleans up.
func (c *conn) drop(why string, err error) {
	if c.dropped.CompareAndSwap(false, true) {
		c.s.log.Warn("ctaphid connection dropped", "why", why, "err", err)
	}
	closeQuietly(c.nc)
}

// finish closes the device and lets the writer flush what is queued.
func (c *conn) finish() {
	c.once.Do(func() {
		c.dev.close()
		close(c.out)
	})
}

func (c *conn) forget() {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
}
