//go:build !linux

package bench

import (
	"context"
	"errors"
)

const haveEventLoop = false

// eventLoop is Linux's; elsewhere every worker runs on a goroutine.
type eventLoop struct{}

func newEventLoop(context.Context, *plan, []*worker) (*eventLoop, error) {
	return nil, errors.New("bench: no event loop on this system")
}

func (*eventLoop) run() error { return nil }
func (*eventLoop) close()     {}
