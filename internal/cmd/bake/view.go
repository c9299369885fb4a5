package bake

import (
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/plan"
)

// liveObserver shows a bake in bake.LiveView: prefixed lines on stderr as
// layers progress, one line per finished layer.
type liveObserver struct{ *bake.LiveView }

var _ bake.Observer = liveObserver{}

func newView(ios *iostreams.IOStreams, p *plan.Plan) liveObserver {
	names := make([]string, 0, len(p.Layers))
	for _, l := range p.Layers {
		names = append(names, l.Layer)
	}
	return liveObserver{bake.NewLiveView(ios, names)}
}

func (o liveObserver) LayerDone(r *bake.Result) { o.LayerFinished(summaryRow(r)) }

func summaryRow(r *bake.Result) bake.SummaryRow {
	return bake.SummaryRow{Layer: r.Layer, Status: string(r.Status), AMIs: r.AMI, Duration: r.Duration, Reason: why(r)}
}
