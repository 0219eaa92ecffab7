package main

import (
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Plot draws calls/s and failed calls/s per second during the scale event,
// with a vertical line at each scale command.
func (b *Bench) Plot(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Scaling 2 -> 5 -> 2 under load: %d calls, %d failed", b.ScaleLoad.Calls, b.ScaleLoad.Failed)
	p.X.Label.Text = "seconds since the load started"
	p.Y.Label.Text = "calls per second"
	ok := make(plotter.XYs, len(b.ScaleLoad.Timeline))
	failed := make(plotter.XYs, len(b.ScaleLoad.Timeline))
	top := 0.0
	for i, s := range b.ScaleLoad.Timeline {
		ok[i] = plotter.XY{X: float64(s.Second), Y: float64(s.OK)}
		failed[i] = plotter.XY{X: float64(s.Second), Y: float64(s.Failed)}
		top = max(top, float64(s.OK))
	}
	okLine, err := plotter.NewLine(ok)
	if err != nil {
		return err
	}
	failLine, err := plotter.NewLine(failed)
	if err != nil {
		return err
	}
	failLine.Color = color.RGBA{R: 200, A: 255}
	failLine.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	p.Add(okLine, failLine)
	p.Legend.Add("OK calls/s", okLine)
	p.Legend.Add("failed calls/s", failLine)
	start := time.UnixMilli(b.ScaleLoad.StartUnixMs)
	for _, e := range b.ScaleEvents {
		x := e.At.Sub(start).Seconds()
		marker, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}})
		if err != nil {
			return err
		}
		marker.Width = vg.Points(0.5)
		p.Add(marker)
		label, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: top}}, Labels: []string{fmt.Sprintf("scale to %d", e.Replicas)}})
		if err != nil {
			return err
		}
		p.Add(label)
	}
	p.Y.Min = 0
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}
