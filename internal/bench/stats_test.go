package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		ds   []time.Duration
		p    int
		want time.Duration
	}{
		{[]time.Duration{5}, 50, 5},
		{[]time.Duration{5}, 99, 5},
		{[]time.Duration{1, 2}, 50, 1},
		{[]time.Duration{1, 2}, 90, 2},
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 90, 90 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond},
	} {
		if got := percentile(tc.ds, tc.p); got != tc.want {
			t.Errorf("p%d of %d samples = %v, want %v", tc.p, len(tc.ds), got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("no samples: %+v", got)
	}
	got := summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond})
	want := Latency{P50: 2, P90: 3, P99: 3, Max: 3, Mean: 2}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
}
