package userverify

import (
	"context"
	"sync"
	"time"
)

// Mock is a [Verifier] for Go tests: it answers scripted outcomes and records
// every [Request] it gets.
//
// Each call takes the next outcome pushed with [Mock.Push] (nil means
// verified); when the queue is empty it answers the default set with
// [Mock.SetDefault], which is nil for the zero value. A Mock is safe for
// concurrent use; the zero value is ready and approves everything.
type Mock struct {
	mu       sync.Mutex
	queue    []error
	fallback error
	delay    time.Duration
	requests []Request
}

var _ Verifier = (*Mock)(nil)

// NewMock returns a Mock that answers outcomes in order, then nil.
func NewMock(outcomes ...error) *Mock {
	m := &Mock{}
	m.Push(outcomes...)
	return m
}

// Push appends outcomes to the queue of answers.
func (m *Mock) Push(outcomes ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = append(m.queue, outcomes...)
}

// SetDefault sets the answer given once the queue is empty.
func (m *Mock) SetDefault(outcome error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fallback = outcome
}

// SetDelay makes each call wait d before answering, as a person would.
// A context that ends during the wait ends the call with [ErrCancelled] or
// [ErrTimeout]; the outcome it would have answered is used up all the same.
func (m *Mock) SetDelay(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delay = d
}

// Verify records req and answers the next outcome.
func (m *Mock) Verify(ctx context.Context, req Request) error {
	delay, outcome := m.next(req)
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctxErr(ctx)
		case <-t.C:
		}
	}
	return outcome
}

func (m *Mock) next(req Request) (delay time.Duration, outcome error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, req)
	if len(m.queue) == 0 {
		return m.delay, m.fallback
	}
	outcome, m.queue = m.queue[0], m.queue[1:]
	return m.delay, outcome
}

// Requests returns a copy of every request received, oldest first.
func (m *Mock) Requests() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Request(nil), m.requests...)
}

// Calls returns how many times Verify was called.
func (m *Mock) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

// String names the method as [Parse] spells it.
func (m *Mock) String() string { return "mock" }

// Unattended reports true: a Mock asks nobody.
func (m *Mock) Unattended() bool { return true }
