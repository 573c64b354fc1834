package keystore

import (
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// committer groups concurrent writes into shared bbolt transactions (group
// commit): while one transaction is being synced, new writes queue up, and
// the next transaction takes them all. No write waits for a timer, as with
// bbolt's DB.Batch, and a lone write costs exactly one commit.
//
// Every write also carries the last-use times held in memory (see
// putEntries). Writes run in their submission order, in one goroutine.
type committer struct {
	db      *DB
	mu      sync.Mutex
	queue   []*op
	closed  bool
	wake    chan struct{}
	stopped chan struct{}
	txns    atomic.Int64 // write transactions run, for tests
}

// op is one write. write runs inside the transaction and may run twice (see
// commitBatch); apply runs after a successful commit, before the caller
// returns, and updates the in-memory state.
type op struct {
	write func(tx *bolt.Tx) error
	apply func()
	done  chan error
}

func (c *committer) start(db *DB) {
	c.db = db
	c.wake = make(chan struct{}, 1)
	c.stopped = make(chan struct{})
	go c.loop()
}

// stop commits what is queued, refuses new writes and waits for the loop to end.
func (c *committer) stop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	<-c.stopped
}

func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// submit queues a write and waits until it is durable or has failed.
func (c *committer) submit(write func(*bolt.Tx) error, apply func()) error {
	o := &op{write: write, apply: apply, done: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.queue = append(c.queue, o)
	c.mu.Unlock()
	c.signal()
	return <-o.done
}

func (c *committer) loop() {
	defer close(c.stopped)
	var lastN int
	var lastDur time.Duration
	for {
		batch, closed := c.collect(lastN, lastDur)
		if len(batch) == 0 && closed {
			return
		}
		start := time.Now()
		c.commitBatch(batch)
		lastN, lastDur = len(batch), time.Since(start)
	}
}

// collect waits for the next batch. The writers of the last commit (lastN
// of them) tend to write again soon after it: collect waits for them to
// join the writes that queued up during the commit, for at most half the
// last commit's duration (and 2 ms). Without that wait, a steady set of
// writers splits into two halves that take turns in half-full commits.
// After an idle spell the deadline has passed, so a lone write goes at once.
func (c *committer) collect(lastN int, lastDur time.Duration) ([]*op, bool) {
	deadline := time.Now().Add(min(lastDur/2, 2*time.Millisecond))
	c.mu.Lock()
	target := len(c.queue) + lastN
	c.mu.Unlock()
	for {
		c.mu.Lock()
		n, closed := len(c.queue), c.closed
		if closed || n > 0 && (n >= target || !time.Now().Before(deadline)) {
			batch := c.queue
			c.queue = nil
			c.mu.Unlock()
			return batch, closed
		}
		c.mu.Unlock()
		c.wait(n, deadline)
	}
}

// wait blocks until a write is submitted or, if some are queued already,
// until the deadline.
func (c *committer) wait(queued int, deadline time.Time) {
	if queued == 0 {
		<-c.wake
		return
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-c.wake:
	case <-t.C:
	}
}

// commitBatch commits a batch in one transaction. If one write fails, the
// transaction is rolled back and each write is retried in a transaction of
// its own, so one failure does not fail its neighbours.
func (c *committer) commitBatch(batch []*op) {
	dirty := c.db.takeDirty()
	c.txns.Add(1)
	var failed bool
	err := c.db.bolt.Update(func(tx *bolt.Tx) error {
		if err := putEntries(tx, dirty, false); err != nil {
			return err
		}
		for _, o := range batch {
			if err := o.write(tx); err != nil {
				failed = true
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.db.requeueDirty(dirty)
	}
	if err != nil && failed && len(batch) > 1 {
		for _, o := range batch {
			finish(o, c.db.bolt.Update(o.write))
		}
		return
	}
	for _, o := range batch {
		finish(o, err)
	}
}

func finish(o *op, err error) {
	if err == nil && o.apply != nil {
		o.apply()
	}
	o.done <- boltError(err)
}
