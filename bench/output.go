package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table: the environment, one line per
// row, then the comparisons and the notes.
func (r *Report) WriteText(w io.Writer) error {
	e := r.Environment
	fmt.Fprintf(w, "byok bench, %s", e.Time.Format("2006-01-02 15:04 MST"))
	if r.Short {
		fmt.Fprint(w, " — SHORT RUN: the figures check that the suite works; they are not measurements")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "machine: %s, %d cores (GOMAXPROCS %d), %s/%s, load %.2f at the start, %.2f at the end\n",
		e.CPU, e.Cores, e.GOMAXPROCS, e.OS, e.Arch, e.LoadStart, e.LoadEnd)
	fmt.Fprintf(w, "Go: %s", e.GoVersion)
	if len(e.Build) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(e.Build, " "))
	}
	fmt.Fprintf(w, "; OpenSSL: %s\n", e.OpenSSL)
	if len(e.Modules) > 0 {
		ms := make([]string, len(e.Modules))
		for i, m := range e.Modules {
			ms[i] = m.Name + " " + m.Version
		}
		fmt.Fprintf(w, "modules: %s\n", strings.Join(ms, ", "))
	}
	fmt.Fprintf(w, "method: %s per row over %d interleaved rounds (the compared groups: 5× the time, 25× the rounds); ns/op is the median of the rounds\n\n",
		r.TimePerRow, r.Rounds)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OPERATION\tALGORITHM\tWRAPPING KEY\tKEY SPEC\tBYTES\tBACKEND\tNS/OP\tOPS/S\tALLOCS/OP\tB/OP\t×FASTEST\t")
	group := ""
	for _, row := range r.Rows {
		if row.Group != group && group != "" && row.Operation != OpAESChain {
			fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t")
		}
		group = row.Group
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%.0f\t%s\t%s\t%s\t%.2f\t\n",
			row.Operation, dash(string(row.Algorithm)), dash(string(row.WrappingKeySpec)), dash(string(row.KeySpec)),
			row.MaterialBytes, row.Backend, row.NsPerOp, fmtOps(row.OpsPerSec), fmtCount(row.AllocsPerOp), fmtCount(row.BytesPerOp),
			row.RatioToFastest)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Comparisons) > 0 {
		fmt.Fprintln(w, "\nComparisons (median of the per-round ratios):")
		for _, c := range r.Comparisons {
			verdict := ""
			if c.Limit > 0 {
				verdict = fmt.Sprintf(" (limit %.2f: %s)", c.Limit, map[bool]string{true: "met", false: "NOT MET"}[c.Met])
			}
			fmt.Fprintf(w, "  %.3f%s  %s\n         %s\n", c.Ratio, verdict, c.Name, c.Note)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range r.Notes {
			if len(n) > 320 {
				n = n[:300] + "… (the JSON report has it all)"
			}
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	return nil
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
