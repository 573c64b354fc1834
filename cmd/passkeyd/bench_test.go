package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passkeyd/passkeyd/internal/bench"
	"github.com/passkeyd/passkeyd/internal/daemon"
)

// The bench command against daemons started in process. Nothing here
// checks a speed: benchmarks are not timed tests.

// benchDaemon starts an ephemeral daemon with the --uv chain uv and returns
// its runtime directory.
func benchDaemon(t *testing.T, uv string) string {
	t.Helper()
	run, err := os.MkdirTemp("", "pkbc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	d, err := daemon.Start(daemon.Config{StateDir: filepath.Join(t.TempDir(), "state"), RuntimeDir: run,
		Ephemeral: true, UV: uv, UVTimeout: 10 * time.Second, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return run
}

// benchCLI runs passkeyd with args and returns its stdout and error.
func benchCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	_, err := root.ExecuteC()
	return out.String(), err
}

func TestBenchJSON(t *testing.T) {
	run := benchDaemon(t, "approve")
	out, err := benchCLI(t, "bench", "--runtime-dir", run, "--clients", "1,3", "--mix", "0.5", "--count", "30",
		"--warmup", "3", "--baseline-time", "10ms", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].Clients != 1 || rep.Runs[1].Clients != 3 {
		t.Fatalf("runs %+v, want one with 1 client and one with 3", rep.Runs)
	}
	for _, r := range rep.Runs {
		if n := r.Assertions.Count + r.Registrations.Count; n != 30 || r.Errors != nil {
			t.Errorf("%d clients: %d operations, errors %v; want 30, none", r.Clients, n, r.Errors)
		}
		if r.Bracket == nil || r.Bracket.Before.Sign <= 0 || r.Bracket.After.KeygenSign <= 0 {
			t.Errorf("%d clients: no bracketing baselines: %+v", r.Clients, r.Bracket)
		}
	}
	if rep.Daemon.UV != "approve" || rep.Baseline.SignParallel <= 0 || rep.Machine.CPUs < 1 || rep.Machine.GoVersion == "" {
		t.Errorf("report header %+v %+v %+v", rep.Daemon, rep.Baseline, rep.Machine)
	}
}

func TestBenchTable(t *testing.T) {
	run := benchDaemon(t, "approve")
	out, err := benchCLI(t, "bench", "--runtime-dir", run, "--clients", "2", "--mix", "0", "--count", "10",
		"--warmup", "2", "--baseline-time", "10ms")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"machine:", "daemon:", "baseline: ECDSA P-256 sign", "clients", "p99 ms", "of sign"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchRefuses(t *testing.T) {
	attended := benchDaemon(t, "command:/bin/true")
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"a person would be asked", []string{"--runtime-dir", attended}, false, "--uv approve"},
		{"no daemon", []string{"--runtime-dir", filepath.Join(t.TempDir(), "none")}, false, "passkeyd is not running"},
		{"mix above 1", []string{"--mix", "1.5"}, true, "--mix"},
		{"bad client list", []string{"--clients", "1,x"}, true, "--clients"},
		{"negative count", []string{"--count", "-1"}, true, "--count"},
		{"no credentials to assert with", []string{"--warmup", "0"}, true, "--warmup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := benchCLI(t, append([]string{"bench"}, tc.args...)...)
			var ue *usageError
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &ue) != tc.usage {
				t.Errorf("error %v, want one that says %q (usage error: %v)", err, tc.want, tc.usage)
			}
		})
	}
}
