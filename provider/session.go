package provider

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A session is the state one host keeps with the authenticator between
// commands: its pinUvAuthToken, a pending GetNextAssertion, a credential
// management enumeration, a large-blob write in progress. A USB key has one
// host; the daemon serves many (one per connection), so state is per session
// and concurrent clients cannot spoil each other's tokens.
type session struct {
	mu       sync.Mutex
	lastUsed atomic.Int64 // Unix nanoseconds
	token    *pinToken
	next     *nextAssertions
	enum     *enumeration
	blobs    *blobWrite
}

type sessionKey struct{}
type userNeededKey struct{}

// WithSession marks ctx as belonging to the host identified by id (any
// comparable value, e.g. a connection). Requests without one share a default
// session.
func WithSession(ctx context.Context, id any) context.Context {
	return context.WithValue(ctx, sessionKey{}, id)
}

// WithUserNeeded makes the provider call fn when it starts waiting for the
// user (the CTAPHID transport then sends KEEPALIVE UPNEEDED).
func WithUserNeeded(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, userNeededKey{}, fn)
}

func userNeededFrom(ctx context.Context) func() {
	fn, _ := ctx.Value(userNeededKey{}).(func())
	return fn
}

// sessionTTL is how long an idle session's state is kept.
const sessionTTL = 10 * time.Minute

type sessions struct {
	mu    sync.RWMutex
	now   func() time.Time
	m     map[any]*session
	sweep atomic.Int64 // Unix nanoseconds of the last expiry sweep
}

func (s *sessions) init(now func() time.Time) { s.now, s.m = now, map[any]*session{} }

// get returns the session of ctx. Its state is guarded by its mutex, which
// is never held while the user is being asked.
//
// The common case, a known session between sweeps, takes only a read lock:
// every request of every host passes here.
func (s *sessions) get(ctx context.Context) *session {
	id := ctx.Value(sessionKey{})
	now := s.now().UnixNano()
	s.mu.RLock()
	ss := s.m[id]
	s.mu.RUnlock()
	if ss != nil && now-s.sweep.Load() <= int64(time.Minute) {
		ss.lastUsed.Store(now)
		return ss
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now-s.sweep.Load() > int64(time.Minute) {
		s.expire(now)
	}
	if ss = s.m[id]; ss == nil {
		ss = &session{}
		s.m[id] = ss
	}
	ss.lastUsed.Store(now)
	return ss
}

// expire forgets sessions idle for sessionTTL; s.mu is held.
func (s *sessions) expire(now int64) {
	s.sweep.Store(now)
	for id, ss := range s.m {
		if now-ss.lastUsed.Load() > int64(sessionTTL) && ss.mu.TryLock() {
			delete(s.m, id)
			ss.mu.Unlock()
		}
	}
}

// EndSession forgets a session's state (the host went away).
func (p *Provider) EndSession(id any) {
	p.sessions.mu.Lock()
	delete(p.sessions.m, id)
	p.sessions.mu.Unlock()
}

// resetAll forgets every session (authenticatorReset).
func (s *sessions) resetAll() {
	s.mu.Lock()
	s.m = map[any]*session{}
	s.mu.Unlock()
}
