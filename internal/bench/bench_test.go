package bench_test

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/ctap"
	"github.com/passkeyd/passkeyd/ctaphid"
	"github.com/passkeyd/passkeyd/internal/bench"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/passkeyd/passkeyd/provider"
)

// These tests check what the load engine counts, never how fast anything
// is: benchmarks are not timed tests.

// envServe makes the test binary act as `passkeyd serve` for
// TestFillAndStartup: state directory, runtime directory.
const envServe = "BENCH_TEST_SERVE"

func TestMain(m *testing.M) {
	if dirs := os.Getenv(envServe); dirs != "" {
		os.Exit(serveForTest(filepath.SplitList(dirs)))
	}
	os.Exit(m.Run())
}

// serveForTest runs a daemon until SIGTERM, as passkeyd serve does.
func serveForTest(dirs []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	d, err := daemon.Start(daemon.Config{StateDir: dirs[0], RuntimeDir: dirs[1], Keystore: "file", UV: "approve", Version: "test"})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	<-ctx.Done()
	if err := d.Shutdown(context.Background()); err != nil {
		return 1
	}
	return 0
}

// shortDir is a temporary directory short enough for socket paths.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pkb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startDaemon(t *testing.T, uv string) (*daemon.Daemon, string) {
	t.Helper()
	run := shortDir(t)
	d, err := daemon.Start(daemon.Config{StateDir: filepath.Join(t.TempDir(), "state"), RuntimeDir: run,
		Keystore: "file", UV: uv, UVTimeout: time.Minute, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return d, filepath.Join(run, daemon.CTAPHIDSocket)
}

func TestRunCountsEveryOperation(t *testing.T) { forEachDriver(t, testRunCountsEveryOperation) }

func testRunCountsEveryOperation(t *testing.T) {
	d, sock := startDaemon(t, "approve")
	ctx := context.Background()
	creds, err := bench.WarmUp(ctx, sock, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	cfg := bench.Config{Socket: sock, Clients: 4, Mix: 0.25, Count: 120, Progress: func(int64) { calls++ }}
	r, err := bench.Run(ctx, cfg, creds)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Assertions.Count + r.Registrations.Count; got != cfg.Count || r.ErrorCount() != 0 {
		t.Fatalf("%d assertions + %d registrations, errors %v; want %d operations, no error",
			r.Assertions.Count, r.Registrations.Count, r.Errors, cfg.Count)
	}
	if r.Registrations.Count == 0 || r.Assertions.Count == 0 {
		t.Errorf("mix 0.25 gave %d registrations and %d assertions", r.Registrations.Count, r.Assertions.Count)
	}
	if calls == 0 {
		t.Error("Progress was never called")
	}
	// 6 from the warm-up, one untimed registration per client is not made
	// (the mix is below 1, so the untimed operation is an assertion).
	if n, _, _ := d.P.Stats(); n != 6+r.Registrations.Count {
		t.Errorf("the store holds %d credentials, want %d", n, 6+r.Registrations.Count)
	}
	l := r.Latency
	if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	r.Compare(bench.Baseline{SignParallel: 1000, KeygenSignParallel: 100})
	want := r.Assertions.PerSec/1000 + r.Registrations.PerSec/100
	if r.Efficiency != want {
		t.Errorf("efficiency %v, want %v", r.Efficiency, want)
	}
}

func TestRunForADuration(t *testing.T) { forEachDriver(t, testRunForADuration) }

func testRunForADuration(t *testing.T) {
	_, sock := startDaemon(t, "approve")
	r, err := bench.Run(context.Background(), bench.Config{Socket: sock, Clients: 2, Mix: 1, Duration: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Registrations.Count == 0 || r.Assertions.Count != 0 || r.Seconds < 0.2 {
		t.Errorf("registrations only for 200 ms: %+v", r)
	}
}

// TestRunCountsRefusalsByStatus makes the provider refuse some assertions
// in the middle of a run.
func TestRunCountsRefusalsByStatus(t *testing.T) { forEachDriver(t, testRunCountsRefusalsByStatus) }

func testRunCountsRefusalsByStatus(t *testing.T) {
	d, sock := startDaemon(t, "approve")
	ctx := context.Background()
	creds, err := bench.WarmUp(ctx, sock, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	inject := func(int64) {
		once.Do(func() {
			_, err := d.P.InjectFault(provider.Fault{Kind: provider.FaultStatus, Op: provider.FaultOpGet, Count: 5, Status: ctap.ErrNoCredentials})
			if err != nil {
				t.Error(err)
			}
		})
	}
	r, err := bench.Run(ctx, bench.Config{Socket: sock, Clients: 2, Duration: 400 * time.Millisecond, Progress: inject}, creds)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Errors["CTAP2_ERR_NO_CREDENTIALS"]; got != 5 || r.ErrorCount() != 5 {
		t.Errorf("errors %v, want 5 × CTAP2_ERR_NO_CREDENTIALS", r.Errors)
	}
}

func TestRunReportsARefusingDaemonBeforeTiming(t *testing.T) {
	forEachDriver(t, testRunReportsARefusingDaemonBeforeTiming)
}

func testRunReportsARefusingDaemonBeforeTiming(t *testing.T) {
	_, sock := startDaemon(t, "deny")
	_, err := bench.Run(context.Background(), bench.Config{Socket: sock, Clients: 2, Mix: 1, Count: 10}, nil)
	if !errors.Is(err, ctap.ErrOperationDenied) {
		t.Fatalf("Run against --uv deny: %v, want OPERATION_DENIED", err)
	}
	_, err = bench.WarmUp(context.Background(), sock, 2, 2)
	if !errors.Is(err, ctap.ErrOperationDenied) {
		t.Fatalf("WarmUp against --uv deny: %v, want OPERATION_DENIED", err)
	}
}

func TestRunRefusesInvalidConfigs(t *testing.T) {
	for _, cfg := range []bench.Config{
		{Socket: "x", Clients: 0, Count: 1},
		{Socket: "x", Clients: 1, Mix: 1.5, Count: 1},
		{Socket: "x", Clients: 1, Mix: 1},
	} {
		if _, err := bench.Run(context.Background(), cfg, nil); err == nil {
			t.Errorf("Run(%+v) succeeded", cfg)
		}
	}
	_, err := bench.Run(context.Background(), bench.Config{Socket: "x", Clients: 1, Count: 1}, nil)
	if !errors.Is(err, bench.ErrNoPool) {
		t.Errorf("assertions without credentials: %v, want ErrNoPool", err)
	}
}

func TestDaemonStatus(t *testing.T) {
	_, sock := startDaemon(t, "approve")
	st, err := bench.DaemonStatus(context.Background(), filepath.Join(filepath.Dir(sock), daemon.APISocket))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Unattended || !st.Enabled || st.Keystore != "file" {
		t.Errorf("status %+v, want an enabled, unattended file keystore", st)
	}
}

// TestFillAndStartup fills a state directory and starts a daemon on it in
// a child process (this test binary, see TestMain).
func TestFillAndStartup(t *testing.T) {
	const n = 10
	state := filepath.Join(t.TempDir(), "state")
	if err := bench.Fill(context.Background(), state, n, nil); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := shortDir(t)
	t.Setenv(envServe, state+string(filepath.ListSeparator)+run)
	s, err := bench.MeasureStartup(context.Background(), []string{exe}, run, bench.FillRP(0), 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.Credentials != n || s.Assertions != 3 || s.RSSMB <= 0 || s.HWMMB < s.RSSMB || s.ReadyMs <= 0 {
		t.Errorf("startup %+v, want %d credentials, 3 assertions and memory figures", s, n)
	}
}

func TestMeasureStartupExplainsAnEmptyStore(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := shortDir(t)
	t.Setenv(envServe, filepath.Join(t.TempDir(), "state")+string(filepath.ListSeparator)+run)
	_, err = bench.MeasureStartup(context.Background(), []string{exe}, run, bench.FillRP(0), 1)
	if !errors.Is(err, ctap.ErrNoCredentials) {
		t.Fatalf("startup on an empty store: %v, want NO_CREDENTIALS", err)
	}
}

func TestMeasureBaseline(t *testing.T) {
	b := bench.MeasureBaseline(20 * time.Millisecond)
	if b.Parallelism < 1 || b.SignSingle <= 0 || b.SignParallel <= 0 || b.KeygenSignSingle <= 0 || b.KeygenSignParallel <= 0 {
		t.Errorf("baseline %+v has a zero rate", b)
	}
	p := bench.MeasureParallel(10*time.Millisecond, 0)
	if p.Sign <= 0 || p.KeygenSign != 0 {
		t.Errorf("MeasureParallel for assertions only: %+v", p)
	}
}

// TestCancelInterruptsBlockedClients cancels a run whose daemon has stopped
// answering: Run returns at once, having closed every connection rather
// than sent CTAPHID_CANCEL and waited for answers that will not come.
func TestCancelInterruptsBlockedClients(t *testing.T) {
	forEachDriver(t, testCancelInterruptsBlockedClients)
}

func testCancelInterruptsBlockedClients(t *testing.T) {
	const clients = 3
	f := startFakeDaemon(t, func(_, n int) verdict {
		if n == 0 {
			return answerOK // the untimed operation
		}
		return hang
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for range clients {
			<-f.hung
		}
		cancel()
	}()
	began := time.Now()
	_, err := bench.Run(ctx, bench.Config{Socket: f.sock, Clients: clients, Mix: 1, Duration: time.Hour}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	// hidclient waits five seconds for the answer to a CANCEL.
	if took := time.Since(began); took > 4*time.Second {
		t.Errorf("Run took %v to return after its daemon hung", took)
	}
	waitFor(t, func() bool {
		conns, closed, _ := f.stats()
		return conns == clients && closed == clients
	})
	if _, _, cancels := f.stats(); cancels != 0 {
		t.Errorf("%d CTAPHID_CANCELs sent, want none", cancels)
	}
}

// TestRunRemakesLostConnections: a connection the daemon drops counts as
// one transport error and is made again.
func TestRunRemakesLostConnections(t *testing.T) { forEachDriver(t, testRunRemakesLostConnections) }

func testRunRemakesLostConnections(t *testing.T) {
	f := startFakeDaemon(t, func(c, n int) verdict {
		if c == 0 && n == 3 {
			return hangUp
		}
		return answerOK
	})
	r, err := bench.Run(context.Background(), bench.Config{Socket: f.sock, Clients: 2, Mix: 1, Count: 50}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors["transport"] != 1 || r.ErrorCount() != 1 || r.Registrations.Count != 49 {
		t.Errorf("%d registrations, errors %v; want 49 and one transport error", r.Registrations.Count, r.Errors)
	}
	if conns, _, _ := f.stats(); conns != 3 {
		t.Errorf("%d connections, want 3", conns)
	}
}

// TestRunReadsRepliesInPieces: replies that come in pieces, after a
// KEEPALIVE and another channel's packet, count as answers; CTAPHID errors
// are counted by name and leave the connection in use.
func TestRunReadsRepliesInPieces(t *testing.T) { forEachDriver(t, testRunReadsRepliesInPieces) }

func testRunReadsRepliesInPieces(t *testing.T) {
	f := startFakeDaemon(t, func(_, n int) verdict {
		if n%4 == 3 {
			return answerBusy
		}
		return answerSlowly
	})
	r, err := bench.Run(context.Background(), bench.Config{Socket: f.sock, Clients: 2, Mix: 1, Count: 40}, nil)
	if err != nil {
		t.Fatal(err)
	}
	busy := "CTAPHID " + ctaphid.ErrChannelBusy.Name()
	// Every fourth request of a connection is refused: 10 of 40 if the
	// two connections share the operations evenly, 8 or 9 at worst.
	if n := r.Errors[busy]; r.Registrations.Count+n != 40 || n < 8 || n > 10 || r.ErrorCount() != n {
		t.Errorf("%d registrations, errors %v; want 40 operations, 8 to 10 of them %s", r.Registrations.Count, r.Errors, busy)
	}
	if conns, _, _ := f.stats(); conns != 2 {
		t.Errorf("%d connections, want 2", conns)
	}
	want := bench.DriverGoroutines
	if strings.HasSuffix(t.Name(), "/event_loop") {
		want = bench.DriverEventLoop
	}
	if r.Driver != want {
		t.Errorf("driver %q, want %q", r.Driver, want)
	}
}

// forEachDriver runs test with the load clients on goroutines and, where
// there is one, on the event loop.
func forEachDriver(t *testing.T, test func(t *testing.T)) {
	t.Run("goroutines", func(t *testing.T) {
		defer bench.SetEventLoop(false)()
		test(t)
	})
	if bench.HaveEventLoop {
		t.Run("event loop", func(t *testing.T) {
			defer bench.SetEventLoop(true)()
			test(t)
		})
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 10 s")
		}
	}
}
