package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/passkeyd/passkeyd/internal/bench"
	"github.com/passkeyd/passkeyd/internal/daemon"
	"github.com/spf13/cobra"
)

type benchFlags struct {
	clients  string
	mix      float64
	count    int
	duration time.Duration
	warmup   int
	baseline time.Duration
	asJSON   bool
}

func newBenchCmd(d *dirs) *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a running daemon: concurrent registrations and assertions over ctaphid.sock",
		Long: `bench drives the daemon on ctaphid.sock with concurrent clients, each on its own
connection and CTAPHID channel, sending a mix of registrations (MakeCredential)
and assertions (GetAssertion, with credentials registered in a warm-up), and
reports operations per second, p50/p90/p99 latency and errors by CTAP status.

Beside them it reports raw ECDSA P-256 signing and key generation + signing,
measured in this process in the same run, on one core and on GOMAXPROCS, and
the daemon's rates as a share of them: assertions against parallel signing,
registrations against parallel key generation + signing. The parallel
baselines are measured again just before and just after each run, and each
run's share is taken against the mean of those two, so that a machine whose
load changes during the sweep still gives fair ratios.

On Linux it also reads the daemon's CPU time (its process is found through
the socket) and its own, and reports the CPU efficiency: the CPU time the
baseline needs for the run's answers over the CPU time the daemon and the
clients spent ("daemon CPU eff." counts the daemon alone). Other work on the
machine moves it much less than it moves the rates.

The clients run in this process and share the machine with the daemon, so
they are kept cheap: on Linux one goroutine drives every client's connection
through epoll (each client still has its own connection, CTAPHID channel and
one request in flight, and every reply's status is checked), which costs
about a third less CPU time per operation than a goroutine per client.
Elsewhere each client has a goroutine. The "clients:" line and --json's
"driver" field say which ran.

Every request asks for user verification (the uv option), so run the daemon
with '--uv approve', which asks nobody; bench refuses a daemon whose status
says a person would be asked. (A command: hook would start a process for
every operation, and bench would measure that.) Registrations add
credentials to the daemon's store: use a state directory you can throw away.
docs/performance.md explains the figures and how to reproduce them.`,
		Example: `  passkeyd serve --state-dir /tmp/pk --runtime-dir /tmp/pkr --uv approve &
  passkeyd bench --runtime-dir /tmp/pkr                     # one client per core, then 32; 10% registrations; 10 s each
  passkeyd bench --runtime-dir /tmp/pkr --clients 1,2,8,32 --mix 0 --duration 5s
  passkeyd bench --runtime-dir /tmp/pkr --clients 32 --mix 1 --count 20000 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, d, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.clients, "clients", "", "concurrent clients, or a comma-separated list to sweep, e.g. 1,2,8,32 (default: one per core, then 32)")
	fl.Float64Var(&f.mix, "mix", 0.1, "fraction of operations that are registrations, 0 (assertions only) to 1 (registrations only)")
	fl.IntVar(&f.count, "count", 0, "operations per run, across all clients (default: run for --duration)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long each run lasts when --count is not given")
	fl.IntVar(&f.warmup, "warmup", 64, "credentials registered before the runs, for the assertions to use")
	fl.DurationVar(&f.baseline, "baseline-time", time.Second, "how long each of the four raw ECDSA baselines is measured (the brackets around each run take half)")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	cmd.AddCommand(newBenchFillCmd(d), newBenchStartupCmd(d))
	return cmd
}

// check validates the flags and returns the client counts to run.
func (f *benchFlags) check() ([]int, error) {
	clients := []int{runtime.NumCPU()}
	if runtime.NumCPU() != 32 {
		clients = append(clients, 32)
	}
	if f.clients != "" {
		clients = nil
		for s := range strings.SplitSeq(f.clients, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 || n > 4096 {
				return nil, usagef("--clients %q: want numbers from 1 to 4096, separated by commas", f.clients)
			}
			clients = append(clients, n)
		}
	}
	switch {
	case f.mix < 0 || f.mix > 1:
		return nil, usagef("--mix %v: want a fraction from 0 to 1", f.mix)
	case f.count < 0:
		return nil, usagef("--count %d: want a positive number", f.count)
	case f.count == 0 && f.duration <= 0:
		return nil, usagef("--duration %v: want a positive duration", f.duration)
	case f.mix < 1 && f.warmup < 1:
		return nil, usagef("--warmup %d: assertions need at least one credential", f.warmup)
	case f.baseline <= 0:
		return nil, usagef("--baseline-time %v: want a positive duration", f.baseline)
	}
	return clients, nil
}

func runBench(cmd *cobra.Command, d *dirs, f *benchFlags) error {
	clients, err := f.check()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep := &bench.Report{Machine: bench.ThisMachine()}
	if rep.Daemon, err = benchPreflight(ctx, d); err != nil {
		return err
	}
	say := stepNotice(cmd.ErrOrStderr())
	say("measuring raw ECDSA P-256 (%v each)…", f.baseline)
	rep.Baseline = bench.MeasureBaseline(f.baseline)
	sock := filepath.Join(d.runtime, daemon.CTAPHIDSocket)
	pid, err := bench.DaemonPID(sock)
	if err != nil || pid == os.Getpid() {
		pid = 0 // no CPU figures: unknown, or a daemon inside this process (tests)
	}
	var creds []*bench.Credential
	if f.mix < 1 {
		say("registering %d credentials to assert with…", f.warmup)
		if creds, err = bench.WarmUp(ctx, sock, f.warmup, slices.Max(clients)); err != nil {
			return describeBench(err)
		}
	}
	for _, n := range clients {
		cfg := bench.Config{Socket: sock, DaemonPID: pid, Clients: n, Mix: f.mix, Count: f.count, Duration: f.duration}
		bar := newProgressBar(cmd.ErrOrStderr(), fmt.Sprintf("%d clients", n), f.count, f.duration)
		cfg.Progress = bar.update
		before := bench.MeasureParallel(f.baseline/2, f.mix)
		r, err := bench.Run(ctx, cfg, creds)
		bar.done()
		if err != nil {
			return describeBench(err)
		}
		r.Bracket = &bench.Bracket{Before: before, After: bench.MeasureParallel(f.baseline/2, f.mix)}
		r.Compare(rep.Baseline)
		rep.Runs = append(rep.Runs, r)
	}
	if f.asJSON {
		return printJSON(cmd.OutOrStdout(), rep)
	}
	printBench(cmd.OutOrStdout(), rep)
	return nil
}

// benchPreflight asks the daemon how it is set up and refuses one that
// would ask a person to verify every operation.
func benchPreflight(ctx context.Context, d *dirs) (bench.Daemon, error) {
	st, err := bench.DaemonStatus(ctx, filepath.Join(d.runtime, daemon.APISocket))
	if err != nil {
		if _, serr := os.Stat(filepath.Join(d.runtime, daemon.APISocket)); serr != nil || isRefused(err) {
			return bench.Daemon{}, errNotRunning(d.runtime)
		}
		return bench.Daemon{}, fmt.Errorf("cannot ask the daemon for its status: %v", err)
	}
	switch {
	case !st.Unattended:
		return bench.Daemon{}, fmt.Errorf("the daemon asks a person to verify every operation (--uv %s); "+
			"benchmark a daemon started with --uv approve, on a state directory you can throw away", st.UV)
	case !st.Enabled:
		return bench.Daemon{}, errors.New("the provider is disabled, so it refuses every operation; turn it on with: passkeyd provider enable")
	}
	return bench.Daemon{Version: st.Version, Keystore: st.Keystore, UV: st.UV, Credentials: st.Credentials}, nil
}

// describeBench explains the errors a person can meet during a run.
func describeBench(err error) error {
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return describeCTAP(err)
}

// printBench prints the report as four lines about the setup and a table
// with one row per run.
func printBench(w io.Writer, rep *bench.Report) {
	m, b, dm := rep.Machine, rep.Baseline, rep.Daemon
	fmt.Fprintf(w, "machine:  %d × %s, %s/%s, %s, GOMAXPROCS %d, load average %s, %s\n", m.CPUs, m.CPUModel, m.OS, m.Arch,
		m.GoVersion, m.GOMAXPROCS, m.LoadAvg, m.Date)
	fmt.Fprintf(w, "daemon:   passkeyd %s, keystore %s, uv %s, %d credentials stored before the warm-up\n", dm.Version, dm.Keystore, dm.UV, dm.Credentials)
	if len(rep.Runs) > 0 {
		how := map[string]string{bench.DriverEventLoop: "one event loop (epoll)", bench.DriverGoroutines: "a goroutine each"}[rep.Runs[0].Driver]
		fmt.Fprintf(w, "clients:  in this process, one connection and channel each, driven by %s\n", how)
	}
	fmt.Fprintf(w, "baseline: ECDSA P-256 sign %s/s on 1 core, %s/s on %d (%.0f µs CPU each); keygen+sign %s/s on 1 core, %s/s on %d (%.0f µs CPU each)\n\n",
		rate(b.SignSingle), rate(b.SignParallel), b.Parallelism, b.SignCPUMicros,
		rate(b.KeygenSignSingle), rate(b.KeygenSignParallel), b.Parallelism, b.KeygenSignCPUMicros)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tmix\tops/s\tp50 ms\tp90 ms\tp99 ms\tassertions/s\tof sign\tregistrations/s\tof keygen+sign\tCPU eff.\tdaemon CPU eff.\terrors\t")
	for _, r := range rep.Runs {
		fmt.Fprintf(tw, "%d\t%.2f\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", r.Clients, r.Mix, rate(r.OpsPerSec),
			r.Latency.P50, r.Latency.P90, r.Latency.P99, rate(r.Assertions.PerSec), percent(r.Assertions.OfBaseline),
			rate(r.Registrations.PerSec), percent(r.Registrations.OfBaseline), percent(r.CPUEfficiency),
			percent(r.DaemonCPUEfficiency), r.ErrorCount())
	}
	tw.Flush()
	for _, r := range rep.Runs {
		if r.Assertions.Count > 0 && r.Registrations.Count > 0 {
			fmt.Fprintf(w, "%d clients: assertions p50/p90/p99 %.2f/%.2f/%.2f ms, registrations %.2f/%.2f/%.2f ms\n", r.Clients,
				r.Assertions.Latency.P50, r.Assertions.Latency.P90, r.Assertions.Latency.P99,
				r.Registrations.Latency.P50, r.Registrations.Latency.P90, r.Registrations.Latency.P99)
		}
		for _, name := range slices.Sorted(maps.Keys(r.Errors)) {
			fmt.Fprintf(w, "%d clients: %d × %s\n", r.Clients, r.Errors[name], name)
		}
	}
}

func rate(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func percent(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// stepNotice returns a function that says what bench is doing, on a
// terminal only.
func stepNotice(w io.Writer) func(format string, args ...any) {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return func(string, ...any) {}
	}
	return func(format string, args ...any) { fmt.Fprintf(f, format+"\n", args...) }
}

// progressBar draws one line on a terminal; elsewhere it draws nothing.
type progressBar struct {
	w        *os.File // nil: not a terminal
	label    string
	count    int
	duration time.Duration
	began    time.Time
}

func newProgressBar(w io.Writer, label string, count int, duration time.Duration) *progressBar {
	b := &progressBar{label: label, count: count, duration: duration, began: time.Now()}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		b.w = f
	}
	return b
}

const barWidth = 30

func (b *progressBar) update(done int64) {
	if b.w == nil {
		return
	}
	elapsed := time.Since(b.began)
	frac := elapsed.Seconds() / b.duration.Seconds()
	if b.count > 0 {
		frac = float64(done) / float64(b.count)
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * barWidth)
	fmt.Fprintf(b.w, "\r%-12s [%s%s] %3.0f%%  %d ops  %.1fs ", b.label, strings.Repeat("#", filled),
		strings.Repeat(".", barWidth-filled), 100*frac, done, elapsed.Seconds())
}

// done clears the bar's line.
func (b *progressBar) done() {
	if b.w != nil {
		fmt.Fprintf(b.w, "\r\033[K")
	}
}

// newBenchFillCmd is the hidden helper that fills a state directory for the
// store-size figures.
func newBenchFillCmd(d *dirs) *cobra.Command {
	var n int
	cmd := &cobra.Command{
		Use:    "fill",
		Short:  "Add discoverable credentials to a stopped daemon's file store (for benchmarks)",
		Hidden: true,
		Long: `fill adds --credentials discoverable credentials to the file-backend store in
--state-dir, four per relying party (rp0.fill.example, rp1.fill.example, ...),
made by the daemon's own provider running in this process. No daemon may be
using the state directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 {
				return usagef("--credentials %d: want a positive number", n)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			bar := newProgressBar(cmd.ErrOrStderr(), "filling", n, 0)
			began := time.Now()
			err := bench.Fill(ctx, d.state, n, bar.update)
			bar.done()
			if err != nil {
				return describeBench(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %d credentials to %s in %v\n", n, d.state, time.Since(began).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "credentials", 1000, "how many credentials to add")
	return cmd
}

// newBenchStartupCmd is the hidden helper that times `passkeyd serve` on a
// filled state directory and reads its resident memory.
func newBenchStartupCmd(d *dirs) *cobra.Command {
	var runs, assertions int
	var asJSON bool
	cmd := &cobra.Command{
		Use:    "startup",
		Short:  "Time 'passkeyd serve' on a filled state directory and read its resident memory",
		Hidden: true,
		Long: `startup runs 'passkeyd serve --keystore file --uv approve' on --state-dir (filled
with 'passkeyd bench fill') and a fresh runtime directory, --runs times. Each
time it measures how long from exec until ctaphid.sock and api.sock accept,
makes --assertions discoverable assertions at rp0.fill.example, reads VmRSS
and VmHWM from /proc/PID/status, and stops the daemon with SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs < 1 || assertions < 1 {
				return usagef("--runs and --assertions: want positive numbers")
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			var out []bench.Startup
			for range runs {
				s, err := startupOnce(cmd.Context(), exe, d.state, assertions)
				if err != nil {
					return err
				}
				out = append(out, s)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"machine": bench.ThisMachine(), "starts": out})
			}
			printStartups(cmd.OutOrStdout(), out)
			return nil
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 5, "how many times to start the daemon")
	cmd.Flags().IntVar(&assertions, "assertions", 10, "assertions before the memory is read")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func startupOnce(ctx context.Context, exe, state string, assertions int) (bench.Startup, error) {
	run, err := os.MkdirTemp("", "pkdstart")
	if err != nil {
		return bench.Startup{}, err
	}
	defer os.RemoveAll(run)
	command := []string{exe, "serve", "--state-dir", state, "--runtime-dir", run, "--keystore", "file",
		"--uv", "approve", "--log-level", "error"}
	return bench.MeasureStartup(ctx, command, run, bench.FillRP(0), assertions)
}

func printStartups(w io.Writer, starts []bench.Startup) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "credentials\tready ms\tfirst assertion ms\tVmRSS MB\tanon MB\tfile MB\tVmHWM MB\tstop ms\t")
	for _, s := range starts {
		fmt.Fprintf(tw, "%d\t%.1f\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", s.Credentials, s.ReadyMs, s.FirstMs, s.RSSMB, s.AnonMB, s.FileMB, s.HWMMB, s.StopMs)
	}
	tw.Flush()
}
