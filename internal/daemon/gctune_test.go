package daemon

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400}, {512 << 10, 400}, {4 << 20, 400}, {5 << 20, 320},
		{8 << 20, 200}, {15 << 20, 106}, {16 << 20, 100}, {200 << 20, 100},
	} {
		got := gcPercentFor(c.live)
		if got != c.want {
			t.Errorf("gcPercentFor(%d MB) = %d, want %d", c.live>>20, got, c.want)
		}
		// The goal the runtime derives from it: the larger of live ×
		// (1+GOGC/100) and the minimum heap of 4 MB × GOGC/100.
		goal := max(c.live*uint64(100+got)/100, uint64(4<<20)*uint64(got)/100)
		if goal < c.live+gcHeadroom*9/10 && got < gcMaxPercent {
			t.Errorf("live %d MB: goal %d MB leaves less than the headroom", c.live>>20, goal>>20)
		}
		if c.live >= gcHeadroom && goal > 2*c.live {
			t.Errorf("live %d MB: goal %d MB is more than GOGC=100 would give", c.live>>20, goal>>20)
		}
	}
}

// TestGCTunerFollowsLiveHeap runs the tuner's per-collection finalizer for
// real: GOGC goes down to 100 while a large heap is live and back up when it
// is gone.
func TestGCTunerFollowsLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	tu := &gcTuner{percent: 100, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	tu.arm()
	defer tu.stopped.Store(true)

	waitGOGC(t, gcMaxPercent)
	big := make([][]byte, 48)
	for i := range big {
		big[i] = make([]byte, 1<<20)
	}
	waitGOGC(t, 100)
	runtime.KeepAlive(big)
	waitGOGC(t, gcMaxPercent)
}

func waitGOGC(t *testing.T, want uint64) {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs
		if metrics.Read(s); s[0].Value.Uint64() == want {
			return
		}
	}
	t.Fatalf("GOGC is %d, want %d", s[0].Value.Uint64(), want)
}
