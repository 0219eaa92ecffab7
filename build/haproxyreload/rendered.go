package main

import (
	"slices"
	"strings"
)

// render is what the reload needs from a rendered servers file
// (the output of HAProxy's load-balancer.tpl).
type render struct {
	// servers are the addresses ("ADDR:PORT") of the backend's server
	// lines that are not disabled, in the file's order: the replicas to
	// route to. The free slots carry the "disabled" keyword.
	servers []string
	// skipped are the template's "# skipped <backend> instance ..." lines,
	// without the "# ", already sanitised by the template.
	skipped []string
}

// parseRendered reads the server lines of `backend <backend>` and the
// skipped-instance comments from a rendered servers file.
func parseRendered(text, backend string) render {
	var r render
	skippedPrefix := "# skipped " + backend + " instance "
	inBackend := false
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, skippedPrefix); ok {
			r.skipped = append(r.skipped, "skipped "+backend+" instance "+rest)
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		// A keyword at the start of a line opens a section; the lines
		// after it, indented, belong to it.
		if line[0] != ' ' && line[0] != '\t' {
			inBackend = f[0] == "backend" && len(f) > 1 && f[1] == backend
			continue
		}
		if inBackend && f[0] == "server" && len(f) >= 3 && !slices.Contains(f[3:], "disabled") {
			r.servers = append(r.servers, f[2])
		}
	}
	return r
}
