package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passkeyd/passkeyd/internal/bench"
)

func sampleReport(stored int) *bench.Report {
	rep := &bench.Report{Machine: bench.Machine{CPUs: 2, CPUModel: "Test CPU <x>", GoVersion: "go1.26.8"},
		Daemon: bench.Daemon{Credentials: stored}}
	for i, n := range []int{1, 2, 8, 32} {
		lat := bench.Latency{P50: 0.3 * float64(i+1), P99: 1.5 * float64(i+1)}
		rep.Runs = append(rep.Runs,
			&bench.Result{Clients: n, Mix: 0, Assertions: bench.Kind{OfBaseline: 0.2 + 0.1*float64(i), Latency: lat}},
			&bench.Result{Clients: n, Mix: 1, Registrations: bench.Kind{OfBaseline: 0.05 * float64(i+1), Latency: lat}},
			&bench.Result{Clients: n, Mix: 0.5}) // mixed: skipped
	}
	return rep
}

// TestPlot draws two store sizes and checks the SVG is well-formed XML
// with a line per series and the targets.
func TestPlot(t *testing.T) {
	dir := t.TempDir()
	var inputs []string
	for _, n := range []int{1000, 100_000} {
		b, _ := json.Marshal(sampleReport(n))
		name := filepath.Join(dir, fmt.Sprintf("r%d.json", n))
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, name)
	}
	out := filepath.Join(dir, "out.svg")
	if err := run(out, inputs); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	polylines := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	// 2 store sizes × (share, CPU efficiency, p50 and p99 of assertions;
	// share and CPU efficiency of registrations)
	if polylines != 12 {
		t.Errorf("%d lines, want 12", polylines)
	}
	for _, want := range []string{"1k credentials stored", "100k credentials stored", "target 50%", "target 20%", "target p99 &lt; 2 ms"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
}
