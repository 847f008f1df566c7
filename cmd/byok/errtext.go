package main

import (
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// errorText is how a failed command's error reads on stderr: "byok CMD: "
// and the message without the library's own "byok: " prefix (which would
// say byok twice). For a terminal (wrap), each line is wrapped to 100
// columns at spaces and continued under its own indentation; lines indented
// by four spaces or more are commands to copy and stay whole, as does any
// word longer than a line (an ARN, a path). Written to a file or a pipe (a
// log, a CI job), each line of the message stays one line, for grep.
func errorText(cmd, msg string, wrap bool) string {
	msg = "byok " + cmd + ": " + strings.TrimPrefix(msg, "byok: ")
	if !wrap {
		return msg + "\n"
	}
	var b strings.Builder
	for _, line := range strings.Split(msg, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := line[:len(line)-len(trimmed)]
		if len(line) <= 100 || len(indent) >= 4 {
			b.WriteString(line + "\n")
			continue
		}
		// Continuation lines sit two columns in from the line they continue.
		first := wrapText(trimmed, indent, 100)
		head, rest, _ := strings.Cut(first, "\n")
		b.WriteString(head + "\n")
		if rest != "" {
			b.WriteString(wrapText(strings.Join(strings.Fields(rest), " "), indent+"  ", 100))
		}
	}
	return b.String()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
