package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// textWidth is the width the default text report fits (WriteText);
// WriteWideText has every column and every note in full.
const textWidth = 100

// comparisonJSON is a Comparison in the JSON report: Judged is false when
// the run was too short for Met to mean anything.
type comparisonJSON struct {
	Comparison
	Judged bool `json:"judged"`
}

// MarshalJSON encodes the report in byok's JSON contract (docs/cli.md,
// "JSON output"): durations in seconds, lists [] never null, and each
// comparison says whether it was judged (not on a short run).
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without this method
	j := struct {
		plain
		TimePerRow  float64          `json:"time_per_row_seconds"`
		Rows        []Row            `json:"rows"`
		Comparisons []comparisonJSON `json:"comparisons"`
		Notes       []string         `json:"notes"`
	}{plain: plain(r), TimePerRow: r.TimePerRow.Seconds(), Rows: []Row{}, Comparisons: []comparisonJSON{}, Notes: []string{}}
	j.Rows = append(j.Rows, r.Rows...)
	j.Notes = append(j.Notes, r.Notes...)
	if j.Environment.Build == nil {
		j.Environment.Build = []string{}
	}
	if j.Environment.Modules == nil {
		j.Environment.Modules = []Module{}
	}
	for _, c := range r.Comparisons {
		judged := c.Limit > 0 && !r.Short
		if !judged {
			c.Met = false
		}
		j.Comparisons = append(j.Comparisons, comparisonJSON{c, judged})
	}
	return json.Marshal(j)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report to fit 100 columns: the environment, one
// line per row with the columns that tell rows apart and their speed,
// then the comparisons and the notes (long ones shortened). WriteWideText
// and WriteJSON have everything.
func (r *Report) WriteText(w io.Writer) error { return r.write(w, false) }

// WriteWideText writes the report with every column (bytes, ops/s, heap
// allocations) and every note in full; its lines are as long as they
// need to be.
func (r *Report) WriteWideText(w io.Writer) error { return r.write(w, true) }

func (r *Report) write(w io.Writer, wide bool) error {
	para := func(text, indent string) {
		if wide {
			fmt.Fprintf(w, "%s%s\n", indent, text)
			return
		}
		fmt.Fprint(w, wrapText(text, indent, textWidth))
	}
	e := r.Environment
	head := "byok bench, " + e.Time.Format("2006-01-02 15:04 MST")
	if r.Short {
		head += " — SHORT RUN: the figures check that the suite works; they are not measurements"
	}
	para(head, "")
	para(fmt.Sprintf("machine: %s, %d cores (GOMAXPROCS %d), %s/%s, load %.2f at the start, %.2f at the end",
		e.CPU, e.Cores, e.GOMAXPROCS, e.OS, e.Arch, e.LoadStart, e.LoadEnd), "")
	goLine := "Go: " + e.GoVersion
	if len(e.Build) > 0 {
		goLine += " (" + strings.Join(e.Build, " ") + ")"
	}
	para(goLine+"; OpenSSL: "+e.OpenSSL, "")
	if len(e.Modules) > 0 {
		ms := make([]string, len(e.Modules))
		for i, m := range e.Modules {
			ms[i] = m.Name + " " + m.Version
		}
		para("modules: "+strings.Join(ms, ", "), "")
	}
	para(fmt.Sprintf("method: %s per row over %d interleaved rounds (the compared groups: 5× the time, 25× the rounds); ns/op is the median of the rounds",
		r.TimePerRow, r.Rounds), "")
	fmt.Fprintln(w)

	if wide {
		r.wideTable(w)
	} else {
		r.table(w)
	}

	if len(r.Comparisons) > 0 {
		fmt.Fprintln(w, "\nComparisons (median of the per-round ratios):")
		for _, c := range r.Comparisons {
			verdict := ""
			switch {
			case c.Limit > 0 && r.Short:
				verdict = fmt.Sprintf(" (limit %.2f: not judged: run too short)", c.Limit)
			case c.Limit > 0:
				verdict = fmt.Sprintf(" (limit %.2f: %s)", c.Limit, map[bool]string{true: "met", false: "NOT MET"}[c.Met])
			}
			para(fmt.Sprintf("%.3f%s  %s", c.Ratio, verdict, c.Name), "  ")
			if c.Note != "" {
				para(c.Note, "         ")
			}
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range r.Notes {
			if !wide && len(n) > 2*textWidth {
				n = n[:2*textWidth-40] + "… (--wide or --json has it all)"
			}
			para(n, "  ")
		}
	}
	return nil
}

// table prints one line per row in the columns that fit 100 columns, a
// heading line per operation, and no blank lines.
func (r *Report) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	op := ""
	for _, row := range r.Rows {
		if row.Operation != op {
			op = row.Operation
			tw.Flush()
			fmt.Fprintf(w, "%s:\n", op)
			fmt.Fprintln(tw, "  ALGORITHM\tWRAPPING KEY\tKEY SPEC\tBACKEND\tNS/OP\t×FASTEST")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.0f\t%.2f\n", dash(string(row.Algorithm)), dash(string(row.WrappingKeySpec)),
			dash(string(row.KeySpec)), row.Backend, row.NsPerOp, row.RatioToFastest)
	}
	tw.Flush()
}

// wideTable prints every column, a blank line between groups of more than
// one row.
func (r *Report) wideTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OPERATION\tALGORITHM\tWRAPPING KEY\tKEY SPEC\tBYTES\tBACKEND\tNS/OP\tOPS/S\tALLOCS/OP\tB/OP\t×FASTEST\t")
	size := map[string]int{}
	for _, row := range r.Rows {
		size[row.Group]++
	}
	group := ""
	for _, row := range r.Rows {
		if row.Group != group && group != "" && (size[row.Group] > 1 || size[group] > 1) {
			fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t")
		}
		group = row.Group
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%.0f\t%s\t%s\t%s\t%.2f\t\n",
			row.Operation, dash(string(row.Algorithm)), dash(string(row.WrappingKeySpec)), dash(string(row.KeySpec)),
			row.MaterialBytes, row.Backend, row.NsPerOp, fmtOps(row.OpsPerSec), fmtCount(row.AllocsPerOp), fmtCount(row.BytesPerOp),
			row.RatioToFastest)
	}
	tw.Flush()
}

// wrapText breaks s into lines of at most width columns (a word longer
// than that stays whole), each starting with indent.
func wrapText(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	words := strings.Fields(s)
	for len(words) > 0 {
		word := words[0]
		words = words[1:]
		if room := width - len([]rune(indent)); len([]rune(word)) > room {
			// A word longer than a line (a long path or identifier) is cut.
			rw := []rune(word)
			word = string(rw[:room])
			words = append([]string{string(rw[room:])}, words...)
		}
		if line != indent && len([]rune(line))+1+len([]rune(word)) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	if line != indent || s == "" {
		b.WriteString(line + "\n")
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtOps(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func fmtCount(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprint(n)
}
