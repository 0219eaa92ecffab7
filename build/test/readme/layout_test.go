package readme

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one line of the README's layout tree that names something: its
// path from the repository's root (with the names listed on one line, as
// "ghzload/, goaway/", each apart) and its description, continuation lines
// included.
type entry struct {
	paths []string
	desc  string
}

// layoutTree parses the block under "## Repository layout". A line is a
// prefix of "│   " or "    " per level above it, "├── " or "└── ", the name
// and the description; a line with neither continues the description above
// it.
func layoutTree(t *testing.T) []entry {
	t.Helper()
	_, after, ok := strings.Cut(repoFile(t, "README.md"), "## Repository layout\n\n```\n")
	if !ok {
		t.Fatal("README.md has no ## Repository layout block")
	}
	block, _, _ := strings.Cut(after, "```")
	var (
		entries []entry
		parents []string // parents[d]: the folder of the entries at depth d+1, from the root
	)
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n")[1:] { // the first line is "."
		i := strings.Index(line, "├── ")
		if i < 0 {
			i = strings.Index(line, "└── ")
		}
		if i < 0 {
			if len(entries) == 0 || strings.Trim(line, "│ ") == "" {
				t.Fatalf("README.md's layout tree: %q names nothing and continues nothing", line)
			}
			entries[len(entries)-1].desc += " " + strings.Trim(line, "│ ")
			continue
		}
		depth := len([]rune(line[:i])) / 4
		if depth > len(parents) {
			t.Fatalf("README.md's layout tree: %q is deeper than the folder above it", line)
		}
		parents = parents[:depth]
		// The name is the first word, and the next while a word ends in ","
		// ("ghzload/, goaway/"); the description is the rest.
		name, desc, _ := strings.Cut(line[i+len("├── "):], " ")
		for strings.HasSuffix(name, ",") {
			var more string
			more, desc, _ = strings.Cut(strings.TrimLeft(desc, " "), " ")
			name += " " + more
		}
		parent := ""
		if depth > 0 {
			parent = parents[depth-1] + "/"
		}
		e := entry{desc: strings.TrimSpace(desc)}
		for _, n := range strings.Split(name, ", ") {
			e.paths = append(e.paths, parent+n)
		}
		entries = append(entries, e)
		parents = append(parents, strings.TrimSuffix(e.paths[0], "/"))
	}
	return entries
}

// The README's layout tree names what is there: every path it names exists
// (a folder "x/<tool>/" stands for the folders in x/, each of which its
// description names), and every folder of the repository's top level, of
// build/ and of build/test/ is in it.
func TestLayoutTreeMatchesTheTree(t *testing.T) {
	listed := map[string]bool{}
	for _, e := range layoutTree(t) {
		for _, p := range e.paths {
			listed[p] = true
			if strings.HasPrefix(e.desc, "made by ") { // .secrets/: not in git
				continue
			}
			dir, placeholder, _ := strings.Cut(p, "<")
			info, err := os.Stat(filepath.Join(root(), dir))
			if err != nil {
				t.Errorf("README.md's layout tree names %s: %v", p, err)
				continue
			}
			if strings.HasSuffix(p, "/") != info.IsDir() {
				t.Errorf("README.md's layout tree names %s: a folder's name ends in / and only a folder's does", p)
			}
			if placeholder == "" {
				continue
			}
			listed[dir] = true
			children, err := os.ReadDir(filepath.Join(root(), dir))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range children {
				if c.IsDir() && !strings.Contains(e.desc, c.Name()) {
					t.Errorf("README.md's layout tree: the description of %s does not name %s%s/", p, dir, c.Name())
				}
			}
		}
	}
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root()
	files, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimSuffix(string(files), "\x00"), "\x00") {
		parts := strings.Split(f, "/")
		for depth := 1; depth < len(parts); depth++ {
			dir := strings.Join(parts[:depth], "/") + "/"
			parent := strings.Join(parts[:depth-1], "/")
			if (parent == "" || parent == "build" || parent == "build/test") && !listed[dir] && !strings.HasPrefix(parts[0], ".") {
				t.Errorf("README.md's layout tree does not name %s (it holds %s)", dir, f)
				listed[dir] = true // once
			}
		}
	}
}

// build/ keeps what is deployed at its top level and what only tests and
// measures in build/test/, from which no image copies anything.
func TestNoImageCopiesFromBuildTest(t *testing.T) {
	dockerfiles, err := filepath.Glob(filepath.Join(root(), "build", "dockerfiles", "Dockerfile*"))
	if err != nil || len(dockerfiles) == 0 {
		t.Fatalf("no Dockerfile in build/dockerfiles: %v", err)
	}
	for _, name := range dockerfiles {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 3 || !strings.EqualFold(fields[0], "COPY") && !strings.EqualFold(fields[0], "ADD") {
				continue
			}
			for _, src := range fields[1 : len(fields)-1] {
				if strings.HasPrefix(src, "--from=") {
					break
				}
				if !strings.HasPrefix(src, "--") && (strings.HasPrefix(path.Clean(src), "build/test") || path.Clean(src) == "." || path.Clean(src) == "build") {
					t.Errorf("%s: %q copies %s into an image; what is under build/test/ only tests and measures", filepath.Base(name), line, src)
				}
			}
		}
	}
}
