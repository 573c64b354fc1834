// Command plot draws docs/performance/scaling.svg from the JSON reports of
// `passkeyd bench --json`: how the daemon's throughput and latency change
// with the number of clients (the x axis) and of stored credentials (one
// line per store size). It writes the SVG by hand, so it needs nothing
// beyond the standard library.
//
//	go run ./internal/bench/cmd/plot -o docs/performance/scaling.svg docs/performance/scaling-*.json
//
// Runs with --mix 0 feed the assertion panels, runs with --mix 1 the
// registration panel; mixed runs are skipped.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/passkeyd/passkeyd/internal/bench"
)

func main() {
	out := flag.String("o", "scaling.svg", "the SVG file to write")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: plot [-o file.svg] report.json...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

func run(out string, inputs []string) error {
	var reports []*bench.Report
	for _, name := range inputs {
		r, err := readReport(name)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := draw(f, collect(reports)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readReport(name string) (*bench.Report, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &r, nil
}

// point is one run: its clients and what it measured.
type point struct {
	clients  int
	share    float64 // of the parallel baseline of its kind, by wall-clock rate
	cpu      float64 // CPU efficiency: baseline CPU time over the run's
	p50, p99 float64 // ms
}

// series is the runs of one kind on one store size, by clients.
type series struct {
	stored int // credentials stored before the warm-up
	points []point
}

// data is everything the figure shows.
type data struct {
	assertions, registrations []*series
	machine                   bench.Machine
}

// collect sorts the runs into series by kind and store size.
func collect(reports []*bench.Report) *data {
	d := &data{}
	byKey := map[[2]int]*series{}
	for _, rep := range reports {
		d.machine = rep.Machine
		for _, r := range rep.Runs {
			kind, k := 0, r.Assertions
			switch r.Mix {
			case 0:
			case 1:
				kind, k = 1, r.Registrations
			default:
				continue
			}
			key := [2]int{kind, rep.Daemon.Credentials}
			s := byKey[key]
			if s == nil {
				s = &series{stored: rep.Daemon.Credentials}
				byKey[key] = s
				if kind == 0 {
					d.assertions = append(d.assertions, s)
				} else {
					d.registrations = append(d.registrations, s)
				}
			}
			s.points = append(s.points, point{clients: r.Clients, share: k.OfBaseline, cpu: r.CPUEfficiency,
				p50: k.Latency.P50, p99: k.Latency.P99})
		}
	}
	for _, list := range [][]*series{d.assertions, d.registrations} {
		sort.Slice(list, func(i, j int) bool { return list[i].stored < list[j].stored })
		for _, s := range list {
			sort.Slice(s.points, func(i, j int) bool { return s.points[i].clients < s.points[j].clients })
		}
	}
	return d
}

// draw writes the figure: three panels side by side and one legend.
func draw(w io.Writer, d *data) error {
	c := newCanvas(1080, 470)
	c.text(540, 24, "middle", 16, "bold", "passkeyd over ctaphid.sock: cost by clients and stored credentials")
	m := d.machine
	c.text(540, 44, "middle", 12, "", fmt.Sprintf("%d × %s, %s, load average %s, %s — passkeyd bench --json, see docs/performance.md",
		m.CPUs, m.CPUModel, m.GoVersion, m.LoadAvg, m.Date))
	share := func(p point) float64 { return 100 * p.share }
	cpu := func(p point) float64 { return 100 * p.cpu }
	c.panel(panel{x: 60, title: "GetAssertion: % of raw parallel signing", ylabel: "% of baseline",
		series: d.assertions, value: share, second: cpu, target: 50, targetLabel: "target 50% (32 clients)"})
	c.panel(panel{x: 420, title: "GetAssertion latency", ylabel: "ms", log: true,
		series: d.assertions, value: func(p point) float64 { return p.p50 }, second: func(p point) float64 { return p.p99 },
		target: 2, targetLabel: "target p99 < 2 ms (1 client)"})
	c.panel(panel{x: 780, title: "MakeCredential: % of raw keygen + sign", ylabel: "% of baseline",
		series: d.registrations, value: share, second: cpu, target: 20, targetLabel: "target 20% (32 clients)"})
	c.text(190, 412, "middle", 11, "", "solid: throughput ÷ baseline rate; dashed: CPU efficiency")
	c.text(550, 412, "middle", 11, "", "solid: p50; dashed: p99")
	c.text(910, 412, "middle", 11, "", "solid: throughput ÷ baseline rate; dashed: CPU efficiency")
	sizes := d.assertions
	if len(d.registrations) > len(sizes) {
		sizes = d.registrations
	}
	for i, s := range sizes {
		c.legend(330+float64(i)*180, 446, palette[i%len(palette)], storeLabel(s.stored))
	}
	return c.write(w)
}
