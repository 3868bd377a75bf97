package debugpage

import (
	"fmt"
	"time"

	"github.com/dualrun/dualrun"
)

// chart is the geometry of an experiment's latency chart: for p50, p90
// and p99, a bar per side, on one scale. It is drawn as inline SVG.
type chart struct {
	Width, Height int
	Bars          []bar
	Empty         bool
}

type bar struct {
	Label        string // the quantile, on the first bar of each group
	LabelY       int
	Y, W         int
	TextX, TextY int
	Class        string // "legacy" or "candidate"
	Value        string
	Title        string
}

// Chart layout, in pixels.
const (
	chartLabel  = 34
	chartBars   = 170
	chartBarH   = 9
	chartGap    = 2
	chartGroup  = 7
	chartValueW = 64
)

func newChart(legacy, candidate dualrun.Latency) chart {
	qs := []struct {
		name string
		l, c time.Duration
	}{{"p50", legacy.P50, candidate.P50}, {"p90", legacy.P90, candidate.P90}, {"p99", legacy.P99, candidate.P99}}
	var top time.Duration
	for _, q := range qs {
		top = max(top, q.l, q.c)
	}
	ch := chart{Width: chartLabel + chartBars + chartValueW, Empty: top <= 0}
	y := 0
	for _, q := range qs {
		for i, v := range []time.Duration{q.l, q.c} {
			b := bar{Y: y, Class: "legacy", Value: formatDuration(v)}
			if i == 1 {
				b.Class = "candidate"
			} else {
				b.Label, b.LabelY = q.name, y+chartBarH+chartGap
			}
			if top > 0 {
				b.W = int(float64(chartBars) * float64(v) / float64(top))
			}
			if v > 0 {
				b.W = max(b.W, 1)
			}
			b.TextX, b.TextY = chartLabel+b.W+4, y+chartBarH
			b.Title = fmt.Sprintf("%s %s %s", b.Class, q.name, b.Value)
			ch.Bars = append(ch.Bars, b)
			y += chartBarH + chartGap
		}
		y += chartGroup
	}
	ch.Height = y - chartGroup
	return ch
}

// formatDuration writes d with three significant digits or so.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
