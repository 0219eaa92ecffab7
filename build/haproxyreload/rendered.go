package main

import (
	"regexp"
	"slices"
	"strings"
)

// render is what the reload needs from a rendered servers file
// (the output of HAProxy's load-balancer.tpl).
type render struct {
	// backends are the Consul services' backends, in the file's order:
	// every backend section with server lines (the render's other
	// backend, upstream-list, has none).
	backends []backend
	// skipped are the template's "# skipped ..." lines (declaration lines
	// and instances it left out), without the "# ", already sanitised by
	// the template.
	skipped []string
	// layout is the file without what a change of replicas changes: no
	// comment or empty line, each server line cut to "server <name>",
	// each upstream variable's value left out. Two renders of the same
	// declaration have the same layout; a new declaration (other backends
	// or routes) changes it, and the Runtime API cannot apply that.
	layout string
}

// backend is one backend of the render.
type backend struct {
	name string
	// servers are the addresses ("ADDR:PORT") of the backend's server
	// lines that are not disabled, in the file's order: the replicas to
	// route to. The free slots carry the "disabled" keyword.
	servers []string
	// slots counts its server lines, free slots included.
	slots int
}

// upstreamValue is the value of an upstream variable's set-var line, which
// the layout leaves out.
var upstreamValue = regexp.MustCompile(`^(set-var proc\.\S+_upstream) str\("[^"]*"\)$`)

// parseRendered reads the backends' server lines, the skipped lines and
// the layout of a rendered servers file.
func parseRendered(text string) render {
	var r render
	var layout []string
	// current is the index in all of the backend whose section the line
	// is in, or -1.
	var all []backend
	current := -1
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "# skipped "); ok {
			r.skipped = append(r.skipped, "skipped "+rest)
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		// A keyword at the start of a line opens a section; the lines
		// after it, indented, belong to it.
		if line[0] != ' ' && line[0] != '\t' {
			current = -1
			if f[0] == "backend" && len(f) > 1 {
				all = append(all, backend{name: f[1]})
				current = len(all) - 1
			}
			layout = append(layout, strings.Join(f, " "))
			continue
		}
		if f[0] == "server" && len(f) >= 3 {
			layout = append(layout, "    server "+f[1])
			if current >= 0 {
				all[current].slots++
				if !slices.Contains(f[3:], "disabled") {
					all[current].servers = append(all[current].servers, f[2])
				}
			}
			continue
		}
		layout = append(layout, "    "+upstreamValue.ReplaceAllString(strings.Join(f, " "), "$1 str(...)"))
	}
	for _, b := range all {
		if b.slots > 0 {
			r.backends = append(r.backends, b)
		}
	}
	r.layout = strings.Join(layout, "\n")
	return r
}
