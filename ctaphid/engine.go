package ctaphid

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Engine defaults.
const (
	// msgTimeout is how long a partly received message waits for its next
	// packet before ERR_MSG_TIMEOUT. CTAP 2.1 §11.2.4 leaves the value to
	// the device; trussed-dev/fido2-tests expects 400–1000 ms.
	defaultMsgTimeout = 500 * time.Millisecond
	// keepaliveInterval follows OpenSK's KEEPALIVE_DELAY_MS = 100; CTAP 2.1
	// §11.2.9.1.7 asks for at least one KEEPALIVE every 100 ms.
	defaultKeepaliveInterval = 100 * time.Millisecond
	// defaultMaxChannels bounds the channels of one host handle; beyond it
	// the least recently used idle channel is freed.
	defaultMaxChannels = 128
)

// engine is what every device of one Server shares: the handler, the
// channel allocator, the settings and the goroutines of CBOR requests.
type engine struct {
	handler     Handler
	winker      Winker // nil when the handler cannot wink
	alloc       *allocator
	log         *slog.Logger
	version     [3]byte // major, minor, build in the INIT response
	msgTimeout  time.Duration
	keepalive   time.Duration
	maxChannels int

	ctx      context.Context // cancelled when the server shuts down
	cancel   context.CancelFunc
	mu       sync.Mutex
	stopping bool           // no new tasks once set
	tasks    sync.WaitGroup // running CBOR requests and winks
	winking  atomic.Bool
	watch    watchdog // KEEPALIVE and slow requests (watch.go)
}

func newEngine(h Handler, log *slog.Logger) *engine {
	ctx, cancel := context.WithCancel(context.Background())
	w, _ := h.(Winker)
	e := &engine{
		handler: h, winker: w, alloc: newAllocator(), log: log,
		version: [3]byte{1, 0, 0}, msgTimeout: defaultMsgTimeout,
		keepalive: defaultKeepaliveInterval, maxChannels: defaultMaxChannels,
		ctx: ctx, cancel: cancel,
	}
	e.watch.init()
	return e
}

// capabilities is the capability byte of the INIT response.
func (e *engine) capabilities() byte {
	caps := CapCBOR | CapNMSG
	if e.winker != nil {
		caps |= CapWink
	}
	return caps
}

// debugging reports whether debug logs are on. Logs that run for every
// message check it first, so that they cost no formatting when off.
func (e *engine) debugging() bool {
	return e.log.Enabled(context.Background(), slog.LevelDebug)
}

// goTask runs task in a goroutine that the server's shutdown waits for. It
// reports false, and runs nothing, once the engine is stopping.
func (e *engine) goTask(task func()) bool {
	if !e.addTask() {
		return false
	}
	go func() {
		defer e.tasks.Done()
		task()
	}()
	return true
}

// addTask counts a task that the server's shutdown waits for; the caller
// runs it and calls e.tasks.Done. It reports false, and counts nothing,
// once the engine is stopping.
func (e *engine) addTask() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return false
	}
	e.tasks.Add(1)
	return true
}

// stop refuses new tasks and cancels the context of every running request.
func (e *engine) stop() {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	e.cancel()
}

// allocator hands out channel IDs that are unique across every device of a
// server while they are alive (CTAP 2.1 §11.2.3): random, never 0, never the
// broadcast CID.
type allocator struct {
	mu   sync.Mutex
	used map[uint32]struct{}
}

func newAllocator() *allocator {
	return &allocator{used: make(map[uint32]struct{})}
}

// allocate returns a fresh channel ID.
func (a *allocator) allocate() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		cid := rand.Uint32()
		if _, taken := a.used[cid]; cid != 0 && cid != BroadcastCID && !taken {
			a.used[cid] = struct{}{}
			return cid
		}
	}
}

// release makes cid available again.
func (a *allocator) release(cid uint32) {
	a.mu.Lock()
	delete(a.used, cid)
	a.mu.Unlock()
}
