package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// Colours that stay apart for colour-blind readers (Okabe–Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"}

const (
	plotW, plotH = 260, 260 // the plotting area of a panel
	plotTop      = 90
	targetColour = "#C00000"
)

// canvas accumulates SVG elements.
type canvas struct {
	w, h int
	b    strings.Builder
}

func newCanvas(w, h int) *canvas {
	c := &canvas{w: w, h: h}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n", w, h, w, h)
	fmt.Fprintf(&c.b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	return c
}

func (c *canvas) write(w io.Writer) error {
	_, err := io.WriteString(w, c.b.String()+"</svg>\n")
	return err
}

func (c *canvas) text(x, y float64, anchor string, size int, weight, s string) {
	if weight != "" {
		weight = fmt.Sprintf(` font-weight="%s"`, weight)
	}
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d"%s>%s</text>`+"\n", x, y, anchor, size, weight, html.EscapeString(s))
}

func (c *canvas) line(x1, y1, x2, y2 float64, colour string, width float64, dash string) {
	if dash != "" {
		dash = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"%s/>`+"\n", x1, y1, x2, y2, colour, width, dash)
}

func (c *canvas) polyline(xs, ys []float64, colour, dash string) {
	var pts []string
	for i := range xs {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", xs[i], ys[i]))
	}
	if dash != "" {
		dash = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	fmt.Fprintf(&c.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), colour, dash)
	for i := range xs {
		fmt.Fprintf(&c.b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", xs[i], ys[i], colour)
	}
}

// panel is one chart: clients on a log₂ x axis, one line per series.
type panel struct {
	x             float64 // left edge of the plotting area
	title, ylabel string
	log           bool // log₁₀ y axis
	series        []*series
	value, second func(point) float64 // second, if set, is drawn dashed
	target        float64
	targetLabel   string
}

func (c *canvas) panel(p panel) {
	c.text(p.x+plotW/2, plotTop-22, "middle", 13, "bold", p.title)
	if len(p.series) == 0 {
		c.text(p.x+plotW/2, plotTop+plotH/2, "middle", 12, "", "no runs of this kind in the input")
		return
	}
	xs := clientTicks(p.series)
	ys := newYAxis(p)
	c.axes(p, xs, ys)
	for i, s := range p.series {
		colour := palette[i%len(palette)]
		c.seriesLine(p, s, xs, ys, p.value, colour, "")
		if p.second != nil {
			c.seriesLine(p, s, xs, ys, p.second, colour, "5,3")
		}
	}
	if p.target > 0 {
		y := ys.pos(p.target)
		c.line(p.x, y, p.x+plotW, y, targetColour, 1.5, "2,3")
		c.text(p.x+4, y-4, "start", 11, "", p.targetLabel)
	}
}

func (c *canvas) seriesLine(p panel, s *series, xs xAxis, ys yAxis, value func(point) float64, colour, dash string) {
	var px, py []float64
	for _, pt := range s.points {
		px = append(px, p.x+xs.pos(pt.clients))
		py = append(py, ys.pos(value(pt)))
	}
	c.polyline(px, py, colour, dash)
}

func (c *canvas) legend(x, y float64, colour, label string) {
	c.line(x, y-4, x+18, y-4, colour, 2, "")
	c.text(x+24, y, "start", 11, "", label)
}

// axes draws the frame, grid lines and tick labels.
func (c *canvas) axes(p panel, xs xAxis, ys yAxis) {
	bottom := float64(plotTop + plotH)
	fmt.Fprintf(&c.b, `<rect x="%.1f" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", p.x, plotTop, plotW, plotH)
	for _, t := range xs.ticks {
		x := p.x + xs.pos(t)
		c.line(x, plotTop, x, bottom, "#ddd", 1, "")
		c.text(x, bottom+16, "middle", 11, "", fmt.Sprint(t))
	}
	c.text(p.x+plotW/2, bottom+34, "middle", 12, "", "concurrent clients")
	for _, t := range ys.ticks {
		y := ys.pos(t)
		c.line(p.x, y, p.x+plotW, y, "#ddd", 1, "")
		c.text(p.x-6, y+4, "end", 11, "", trimFloat(t))
	}
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		p.x-40, float64(plotTop+plotH/2), p.x-40, float64(plotTop+plotH/2), html.EscapeString(p.ylabel))
}

// xAxis places client counts on a log₂ scale.
type xAxis struct {
	ticks    []int
	min, max float64 // log₂ of the extremes
}

func clientTicks(ss []*series) xAxis {
	seen := map[int]bool{}
	var ticks []int
	for _, s := range ss {
		for _, p := range s.points {
			if !seen[p.clients] {
				seen[p.clients] = true
				ticks = append(ticks, p.clients)
			}
		}
	}
	slices.Sort(ticks)
	return xAxis{ticks: ticks, min: math.Log2(float64(ticks[0])), max: math.Log2(float64(ticks[len(ticks)-1]))}
}

func (a xAxis) pos(clients int) float64 {
	const pad = 16
	if a.max == a.min {
		return plotW / 2
	}
	return pad + (math.Log2(float64(clients))-a.min)/(a.max-a.min)*(plotW-2*pad)
}

// yAxis maps values to the plotting area, linear from 0 or log₁₀.
type yAxis struct {
	log      bool
	min, max float64
	ticks    []float64
}

func newYAxis(p panel) yAxis {
	hi, lo := p.target, math.Inf(1)
	for _, s := range p.series {
		for _, pt := range s.points {
			for _, f := range []func(point) float64{p.value, p.second} {
				if f != nil {
					hi, lo = math.Max(hi, f(pt)), math.Min(lo, f(pt))
				}
			}
		}
	}
	if p.log {
		return logAxis(math.Min(lo, p.target), hi)
	}
	return linearAxis(hi)
}

func linearAxis(hi float64) yAxis {
	step := niceStep(hi / 5)
	top := math.Ceil(hi*1.1/step) * step
	a := yAxis{min: 0, max: top}
	for v := 0.0; v <= top+step/2; v += step {
		a.ticks = append(a.ticks, v)
	}
	return a
}

func logAxis(lo, hi float64) yAxis {
	lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1e-3))))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	a := yAxis{log: true, min: lo, max: hi}
	for d := lo; d <= hi*1.001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= hi*1.001 {
				a.ticks = append(a.ticks, v)
			}
		}
	}
	return a
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

func (a yAxis) pos(v float64) float64 {
	var f float64
	if a.log {
		f = (math.Log10(math.Max(v, a.min)) - math.Log10(a.min)) / (math.Log10(a.max) - math.Log10(a.min))
	} else {
		f = (v - a.min) / (a.max - a.min)
	}
	return float64(plotTop+plotH) - f*plotH
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func storeLabel(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk credentials stored", n/1000)
	}
	return fmt.Sprintf("%d credentials stored", n)
}
