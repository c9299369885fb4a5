package status

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amibake/amibake/internal/iostreams"
)

// colours, only when the terminal has them.
type painter struct{ on bool }

func (p painter) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
func (p painter) green(s string) string  { return p.paint("32", s) }
func (p painter) yellow(s string) string { return p.paint("33", s) }
func (p painter) red(s string) string    { return p.paint("31", s) }
func (p painter) bold(s string) string   { return p.paint("1", s) }

// Age renders a duration the way a person reads an AMI's age: 45s, 12m,
// 5h, 3d.
func Age(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func writeText(ios *iostreams.IOStreams, rep *Report) error {
	p := painter{on: ios.IsStdoutTTY() && ios.ColorEnabled()}
	w := ios.Out
	fmt.Fprintf(w, "%s %s at %s\n\n", p.bold("Project"), rep.Project, rep.Time.Format(time.RFC3339))

	// Layers: the plan state, colour in the last column only so that the
	// columns stay aligned.
	fmt.Fprintln(w, p.bold("LAYERS"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tPARENT\tFINGERPRINT\tSTATE")
	for _, l := range rep.Layers {
		state := p.green(StateUpToDate)
		switch l.State {
		case StateWouldRebuild:
			state = p.yellow(fmt.Sprintf("would rebuild: %s", l.Reason))
			if l.Detail != "" {
				state = p.yellow(fmt.Sprintf("would rebuild: %s (%s)", l.Reason, l.Detail))
			}
		case StateWouldPublish:
			state = p.yellow("would publish " + l.Detail)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Layer, orDash(l.Parent), l.Fingerprint, state)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, p.bold("CHANNELS"))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tCHANNEL\tREGION\tAMI\tAGE\tFLAGS")
	rows := 0
	for _, l := range rep.Layers {
		for _, c := range l.Channels {
			for i, r := range c.Regions {
				layer, ch := l.Layer, c.Channel
				if i > 0 {
					layer, ch = "", ""
				}
				age := "-"
				if r.Created != "" {
					age = Age(r.AgeSeconds)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", layer, ch, r.Region, orDash(r.AMI), age, flags(p, c, r, i == 0))
				rows++
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	if rows == 0 {
		fmt.Fprintln(w, "No channel is set: run 'amibake bake'.")
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, p.bold("FLEETS"))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLEET\tSTRATEGY\tCHANNEL\tTARGET\tINSTANCES\tIN USE\tDRIFT")
	for _, f := range rep.Fleets {
		drift := p.green("0")
		if f.Drift > 0 {
			drift = p.red(fmt.Sprint(f.Drift))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%d\t%s\t%s\n", f.Fleet, f.Strategy, f.Layer, f.Channel, orDash(f.Target), f.Instances, inUse(f.Images), drift)
		for _, g := range f.Groups {
			what := fmt.Sprintf("  group %s", g.Name)
			if g.Missing {
				fmt.Fprintf(tw, "%s\t\t\t\t\t%s\t\n", what, "not found")
				continue
			}
			fmt.Fprintf(tw, "%s\t\t\ttemplate %s\t%d/%d\tlaunches %s\t\n", what, orDash(g.TemplateVersion), g.Instances, g.Desired, orDash(g.TemplateAMI))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	if len(rep.Fleets) == 0 {
		fmt.Fprintln(w, "No fleet is declared (fleets/*.hcl).")
	}
	drift := 0
	for _, f := range rep.Fleets {
		drift += f.Drift
	}
	if drift > 0 {
		fmt.Fprintf(w, "%d instance(s) not on their channel AMI: 'amibake drift' says how far behind each is.\n", drift)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, p.bold("LOCK"))
	var err error
	switch l := rep.Lock; {
	case l == nil || !l.Held:
		_, err = fmt.Fprintf(w, "Unlocked (%s).\n", rep.Lock.Name)
	case l.Expired:
		_, err = fmt.Fprintf(w, "%s\n", p.yellow("Expired lease of "+l.Lease.String()+": the next run takes it over."))
	default:
		_, err = fmt.Fprintf(w, "%s\n", p.red("Held by "+l.Lease.String()+"."))
	}
	if err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

func flags(p painter, c *Channel, r *RegionAMI, home bool) string {
	var out []string
	switch r.State {
	case "available":
	case "missing":
		out = append(out, p.yellow("no copy"))
	case "deregistered":
		out = append(out, p.red("gone"))
	default:
		out = append(out, p.yellow(r.State))
	}
	if r.Revoked != "" {
		out = append(out, p.red("revoked: "+r.Revoked))
	}
	if r.Deprecated {
		out = append(out, p.yellow("deprecated"))
	}
	if home && !c.Current && r.State != "deregistered" {
		out = append(out, "older fingerprint")
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}

func inUse(images map[string]int) string {
	if len(images) == 0 {
		return "-"
	}
	ids := make([]string, 0, len(images))
	for id := range images {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if images[ids[i]] != images[ids[j]] {
			return images[ids[i]] > images[ids[j]]
		}
		return ids[i] < ids[j]
	})
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s×%d", id, images[id])
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
