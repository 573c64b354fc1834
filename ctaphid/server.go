package ctaphid

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
)

// ErrServerClosed is returned by [Server.Serve] and [Server.ServeUHID] after
// [Server.Shutdown].
var ErrServerClosed = errors.New("ctaphid: server closed")

// DefaultMaxConns is the default bound on simultaneous socket connections.
const DefaultMaxConns = 4096

// Server is one CTAP 2.1 authenticator seen through CTAPHID (CTAP 2.1
// §11.2): it serves socket connections ([Server.Serve]) and the Linux
// virtual HID device ([Server.ServeUHID]), each connection and the uhid
// device being one host handle. Channel IDs are unique across all of them.
// Its methods are safe for concurrent use.
type Server struct {
	e        *engine
	log      *slog.Logger
	maxConns int

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	uhids     map[*uhidDevice]struct{}
	wg        sync.WaitGroup // connection and uhid goroutines
}

// Option configures a [Server].
type Option func(*Server)

// WithLogger sets the logger. Logs name commands, channels, lengths and
// errors, never message contents. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) { s.log = l }
}

// WithMaxConns bounds the number of simultaneous socket connections; more
// are closed as soon as they are accepted. The default, also for n <= 0, is
// [DefaultMaxConns].
func WithMaxConns(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxConns = n
		}
	}
}

// WithDeviceVersion sets the device version in the CTAPHID_INIT response
// (CTAP 2.1 §11.2.9.1.3). The default is 1.0.0.
func WithDeviceVersion(major, minor, build byte) Option {
	return func(s *Server) { s.e.version = [3]byte{major, minor, build} }
}

// NewServer returns a server that hands every CTAPHID_CBOR message to h.
// If h is also a [Winker], the server announces and serves CTAPHID_WINK.
func NewServer(h Handler, opts ...Option) *Server {
	s := &Server{
		log:       slog.New(slog.DiscardHandler),
		maxConns:  DefaultMaxConns,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		uhids:     make(map[*uhidDevice]struct{}),
	}
	s.e = newEngine(h, s.log)
	for _, o := range opts {
		o(s)
	}
	s.e.log = s.log
	return s
}

// Shutdown stops accepting connections, cancels the context of every
// request in flight, waits for the handlers to return and for their replies
// to be written, then closes every connection and destroys the uhid device.
// If ctx ends first, Shutdown closes everything at once and returns
// ctx.Err(); a handler that ignores its context is never abandoned, only
// waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	s.e.stop()
	err := waitContext(ctx, &s.e.tasks)
	s.closeTransports()
	if err == nil {
		err = waitContext(ctx, &s.wg)
	}
	if err != nil {
		s.forceClose()
	}
	return err
}

// beginShutdown refuses new connections and closes the listeners.
func (s *Server) beginShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
}

// closeTransports closes every device. Replies are written as they are
// made, so the handlers that Shutdown waited for have sent theirs.
func (s *Server) closeTransports() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.finish()
	}
	for u := range s.uhids {
		u.finish()
	}
}

// forceClose closes every connection without waiting for its queue.
func (s *Server) forceClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
	for u := range s.uhids {
		u.rw.Close()
	}
}

// waitContext waits for wg or for ctx.
func waitContext(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeQuietly closes c; used where the error has nowhere to go.
func closeQuietly(c io.Closer) { _ = c.Close() }
