package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The daemon's live heap is small: under 1 MB with a few hundred passkeys,
// about 15 MB with 100,000. With Go's default GOGC=100 and its 4 MB minimum
// heap, a daemon answering thousands of assertions a second collects
// garbage every 20 ms or so, and the collections, their write barriers and
// the stacks they shrink cost about a sixth of its CPU (docs/performance.md).
// TuneGC trades a few megabytes for that: it keeps at least gcHeadroom of
// allocation between collections, by raising GOGC while the live heap is
// small, and leaves GOGC at 100 once the live heap is gcHeadroom or more,
// so that a large store costs no more memory than before.

// gcHeadroom is the least the heap may grow between two collections.
const gcHeadroom = 16 << 20

// gcMaxPercent bounds GOGC: Go's minimum heap goal is 4 MB × GOGC/100,
// which at 400 is gcHeadroom itself.
const gcMaxPercent = 400

var gcTuneOnce sync.Once

// TuneGC keeps gcHeadroom of allocation between garbage collections for the
// rest of the process, re-reading the live heap after every collection. It
// does nothing when the environment sets GOGC: the user has chosen. Call it
// once, from the program that serves; the tuning is process-wide, so
// programs that embed a provider in their own process are left alone.
func TuneGC(log *slog.Logger) {
	if _, set := os.LookupEnv("GOGC"); set {
		log.Debug("GOGC is set; the collector is not tuned")
		return
	}
	gcTuneOnce.Do(func() {
		t := &gcTuner{percent: 100, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
		t.tune()
		t.arm()
	})
}

// gcTuner sets GOGC from the live heap once per collection: a sentinel
// object's finalizer runs after each collection that finds it unreachable,
// and makes the next sentinel.
type gcTuner struct {
	percent int
	sample  []metrics.Sample
	stopped atomic.Bool // tests stop theirs; the daemon's runs for good
}

type gcSentinel struct{ t *gcTuner }

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{t}, func(s *gcSentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.tune()
		s.t.arm()
	})
}

func (t *gcTuner) tune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercentFor(t.sample[0].Value.Uint64())
	// Small moves of the live heap change nothing worth a call.
	if p != t.percent && (p == 100 || p == gcMaxPercent || p*10 < t.percent*9 || p*9 > t.percent*10) {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// gcPercentFor is the GOGC that lets a heap of live bytes grow by
// gcHeadroom, between 100 and gcMaxPercent.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	return int(min(max(gcHeadroom*100/live, 100), gcMaxPercent))
}
