package provider

import (
	"context"
	"sync"
	"time"
)

// A session is the state one host keeps with the authenticator between
// commands: its pinUvAuthToken, a pending GetNextAssertion, a credential
// management enumeration, a large-blob write in progress. A USB key has one
// host; the daemon serves many (one per connection), so state is per session
// and concurrent clients cannot spoil each other's tokens.
type session struct {
	mu       sync.Mutex
	lastUsed time.Time
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
	mu    sync.Mutex
	now   func() time.Time
	m     map[any]*session
	sweep time.Time
}

func (s *sessions) init(now func() time.Time) { s.now, s.m = now, map[any]*session{} }

// get returns the session of ctx. Its state is guarded by its mutex, which
// is never held while the user is being asked.
func (s *sessions) get(ctx context.Context) *session {
	id := ctx.Value(sessionKey{})
	s.mu.Lock()
	now := s.now()
	if now.Sub(s.sweep) > time.Minute {
		s.expire(now)
	}
	ss := s.m[id]
	if ss == nil {
		ss = &session{}
		s.m[id] = ss
	}
	ss.lastUsed = now
	s.mu.Unlock()
	return ss
}

func (s *sessions) expire(now time.Time) {
	s.sweep = now
	for id, ss := range s.m {
		if now.Sub(ss.lastUsed) > sessionTTL && ss.mu.TryLock() {
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
