package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Baseline is raw ECDSA P-256 in this process, in operations per second:
// the work an authenticator cannot avoid. Parallel rates use one goroutine
// per GOMAXPROCS. The CPU figures are the CPU time one operation took in
// the parallel measurement, in microseconds.
type Baseline struct {
	Parallelism         int     `json:"parallelism"`
	SignSingle          float64 `json:"signSingle"`
	SignParallel        float64 `json:"signParallel"`
	KeygenSignSingle    float64 `json:"keygenSignSingle"`
	KeygenSignParallel  float64 `json:"keygenSignParallel"`
	SignCPUMicros       float64 `json:"signCpuMicros"`
	KeygenSignCPUMicros float64 `json:"keygenSignCpuMicros"`
}

// Parallel is the two parallel baselines, in operations per second and CPU
// microseconds per operation; zero where not measured.
type Parallel struct {
	Sign                float64 `json:"sign"`
	KeygenSign          float64 `json:"keygenSign"`
	SignCPUMicros       float64 `json:"signCpuMicros,omitempty"`
	KeygenSignCPUMicros float64 `json:"keygenSignCpuMicros,omitempty"`
}

// Bracket is the parallel baselines measured just before and just after
// one run. On a machine whose load changes while it is measured, the
// run's ratios are taken against their mean rather than against the
// [Baseline] measured at the start.
type Bracket struct {
	Before Parallel `json:"before"`
	After  Parallel `json:"after"`
}

// mean is the average of Before and After.
func (b *Bracket) mean() Parallel {
	avg := func(x, y float64) float64 { return (x + y) / 2 }
	return Parallel{Sign: avg(b.Before.Sign, b.After.Sign), KeygenSign: avg(b.Before.KeygenSign, b.After.KeygenSign),
		SignCPUMicros:       avg(b.Before.SignCPUMicros, b.After.SignCPUMicros),
		KeygenSignCPUMicros: avg(b.Before.KeygenSignCPUMicros, b.After.KeygenSignCPUMicros)}
}

// MeasureBaseline times signing, and key generation followed by one
// signature, for d each, on one goroutine and then on GOMAXPROCS.
func MeasureBaseline(d time.Duration) Baseline {
	n := runtime.GOMAXPROCS(0)
	b := Baseline{Parallelism: n}
	b.SignSingle, _ = rate(d, 1, signOnce())
	b.SignParallel, b.SignCPUMicros = rate(d, n, signOnce())
	b.KeygenSignSingle, _ = rate(d, 1, keygenSign)
	b.KeygenSignParallel, b.KeygenSignCPUMicros = rate(d, n, keygenSign)
	return b
}

// MeasureParallel times the parallel baselines a run of mix needs, for d
// each: signing unless mix is 1, key generation and signing unless mix is 0.
func MeasureParallel(d time.Duration, mix float64) Parallel {
	var p Parallel
	n := runtime.GOMAXPROCS(0)
	if mix < 1 {
		p.Sign, p.SignCPUMicros = rate(d, n, signOnce())
	}
	if mix > 0 {
		p.KeygenSign, p.KeygenSignCPUMicros = rate(d, n, keygenSign)
	}
	return p
}

var digest = sha256.Sum256([]byte("authenticatorData || clientDataHash"))

// signOnce returns an operation that signs with one fixed key.
func signOnce() func() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("bench: P-256 key generation failed: " + err.Error())
	}
	return func() { _, _ = ecdsa.SignASN1(rand.Reader, key, digest[:]) }
}

func keygenSign() {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, _ = ecdsa.SignASN1(rand.Reader, k, digest[:])
}

// rate runs op on workers goroutines for d and returns operations per
// second and the process's CPU microseconds per operation.
func rate(d time.Duration, workers int, op func()) (perSec, cpuMicros float64) {
	var stop atomic.Bool
	var done atomic.Int64
	var wg sync.WaitGroup
	cpu := selfCPU()
	start := time.Now()
	for range workers {
		wg.Go(func() {
			n := int64(0)
			for !stop.Load() {
				op()
				n++
			}
			done.Add(n)
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	ops := float64(max(done.Load(), 1))
	return ops / time.Since(start).Seconds(), float64((selfCPU() - cpu).Microseconds()) / ops
}
