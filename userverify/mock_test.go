package userverify

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestMockOutcomesInOrderThenDefault(t *testing.T) {
	m := NewMock(ErrDenied, nil)
	m.Push(ErrLockedOut)
	m.SetDefault(ErrUnavailable)
	for i, want := range []error{ErrDenied, nil, ErrLockedOut, ErrUnavailable, ErrUnavailable} {
		req := Request{Operation: OpGetAssertion, RPID: "example.com", UserName: string(rune('a' + i))}
		wantErr(t, m.Verify(bg, req), want)
	}
	if m.Calls() != 5 {
		t.Fatalf("Calls() = %d, want 5", m.Calls())
	}
	reqs := m.Requests()
	if len(reqs) != 5 || reqs[0].UserName != "a" || reqs[4].UserName != "e" {
		t.Fatalf("Requests() = %+v", reqs)
	}
	reqs[0].UserName = "changed"
	if m.Requests()[0].UserName != "a" {
		t.Fatal("Requests() returned the Mock's own slice")
	}
}

func TestMockZeroValueApproves(t *testing.T) {
	var m Mock
	wantErr(t, m.Verify(bg, Request{Operation: OpReset}), nil)
}

func TestMockDelayHonoursContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(bg, 20*time.Millisecond)
		}, ErrTimeout},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(bg)
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, ErrCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMock()
			m.SetDelay(time.Minute)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			wantErr(t, m.Verify(ctx, Request{}), tt.want)
			if time.Since(start) > 5*time.Second {
				t.Fatal("Verify did not return when ctx ended")
			}
		})
	}
}

func TestMockDelayThenAnswer(t *testing.T) {
	m := NewMock(ErrDenied)
	m.SetDelay(10 * time.Millisecond)
	start := time.Now()
	wantErr(t, m.Verify(bg, Request{}), ErrDenied)
	if time.Since(start) < 10*time.Millisecond {
		t.Fatal("Verify answered before the delay")
	}
}

func TestMockDoneContext(t *testing.T) {
	m := NewMock()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	wantErr(t, m.Verify(ctx, Request{}), ErrCancelled)
	if m.Calls() != 1 {
		t.Fatal("a cancelled call was not recorded")
	}
}

func TestMockConcurrent(t *testing.T) {
	m := NewMock()
	const n = 50
	for range n {
		m.Push(ErrDenied)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	denied := 0
	for range 2 * n {
		wg.Go(func() {
			if m.Verify(bg, Request{}) != nil {
				mu.Lock()
				denied++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if denied != n || m.Calls() != 2*n {
		t.Fatalf("denied %d of %d calls, want %d of %d", denied, m.Calls(), n, 2*n)
	}
}
