// Package supervisorconf reads the supervisord programs of the hello_server
// and load-balancer images as supervisord v0.7.3 reads them, with its INI
// library (github.com/ochinchina/go-ini, the version its config module pins)
// and its defaults, and holds the rules of their ordered stop: which engine
// LB_ENGINE picks, the order their priorities give, and how long past
// stopwaitsecs the stop waits for a program. The program files are the one
// table of the stop: each program's priority is its place in the order,
// its stopwaitsecs its budget.
//
// build/entrypoint (supervisord-entrypoint, the images' entrypoint) stops
// the programs by it; build/test/stopbudget adds up the same values against the
// containers' grace periods.
package supervisorconf

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	ini "github.com/ochinchina/go-ini"
)

// DefaultStopWait is supervisord's stopwaitsecs for a program that sets
// none (v0.7.3, process.go: GetInt("stopwaitsecs", 10)).
const DefaultStopWait = 10 * time.Second

// DefaultPriority is supervisord's priority for a program that sets none
// (v0.7.3's config module, process_sort.go: GetInt("priority", 999)).
const DefaultPriority = 999

// programPrefix starts the name of a program's section.
const programPrefix = "program:"

// Program is one supervisord program's stop settings.
type Program struct {
	Name string
	// File is the path it was read from.
	File string
	// Engine is the load-balancer engine whose folder holds File, run only
	// when LB_ENGINE names it; "" for the programs every image runs.
	Engine  string
	Command string
	// StopSignals is stopsignal split into words: supervisord sends each in
	// turn and waits stopwaitsecs after each; with none it SIGKILLs at once.
	StopSignals []string
	// StopWait is stopwaitsecs, DefaultStopWait when the file sets none
	// (HasStopWait false).
	StopWait    time.Duration
	HasStopWait bool
	// KillAsGroup is killasgroup (default: stopasgroup, default false):
	// supervisord's SIGKILL reaches the program's whole process group.
	KillAsGroup bool
	// Priority is priority, DefaultPriority when the file sets none
	// (HasPriority false). Lower starts first and stops last, as
	// supervisor documents it: StopOrder stops the highest first.
	Priority    int
	HasPriority bool
}

// ReadFile reads the programs a file defines, sorted by name. supervisord
// would read an unparsable stopwaitsecs, priority, killasgroup or
// stopasgroup as its default without a word; ReadFile rejects it, naming the file, the
// program, the value and what is accepted.
func ReadFile(path, engine string) ([]Program, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := ini.NewIni()
	cfg.LoadBytes(raw)
	if name, ok := repeatedSection(string(raw)); ok {
		// go-ini merges a repeated section into one without a word.
		return nil, fmt.Errorf("%s: [%s] is defined twice", path, name)
	}
	var programs []Program
	for _, section := range cfg.Sections() {
		name, ok := strings.CutPrefix(section.Name, programPrefix)
		if !ok {
			continue
		}
		p, err := readProgram(section, name, path, engine)
		if err != nil {
			return nil, err
		}
		programs = append(programs, p)
	}
	slices.SortFunc(programs, func(a, b Program) int { return strings.Compare(a.Name, b.Name) })
	return programs, nil
}

func readProgram(section *ini.Section, name, path, engine string) (Program, error) {
	if name == "" {
		return Program{}, fmt.Errorf("%s: [%s] is invalid: accepted is [program:NAME]", path, section.Name)
	}
	p := Program{Name: name, File: path, Engine: engine, StopWait: DefaultStopWait, Priority: DefaultPriority}
	p.Command = section.GetValueWithDefault("command", "")
	p.StopSignals = strings.Fields(section.GetValueWithDefault("stopsignal", ""))
	var errs []error
	if value, err := section.GetValue("stopwaitsecs"); err == nil {
		secs, err := strconv.Atoi(value)
		if err != nil || secs < 1 {
			errs = append(errs, fmt.Errorf("stopwaitsecs=%q is invalid: accepted is a whole number of seconds, at least 1", value))
		}
		p.StopWait, p.HasStopWait = time.Duration(secs)*time.Second, true
	}
	if value, err := section.GetValue("priority"); err == nil {
		priority, err := strconv.Atoi(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("priority=%q is invalid: accepted is a whole number (lower starts first and stops last)", value))
		}
		p.Priority, p.HasPriority = priority, true
	}
	stopAsGroup, err := boolKey(section, "stopasgroup", false)
	errs = append(errs, err)
	p.KillAsGroup, err = boolKey(section, "killasgroup", stopAsGroup)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return Program{}, fmt.Errorf("%s: program %s: %w", path, name, err)
	}
	return p, nil
}

// boolKey reads a key as supervisord does (strconv.ParseBool), def when the
// section does not set it.
func boolKey(section *ini.Section, key string, def bool) (bool, error) {
	value, err := section.GetValue(key)
	if err != nil {
		return def, nil
	}
	b, err := strconv.ParseBool(value)
	if err != nil {
		return def, fmt.Errorf("%s=%q is invalid: accepted is true or false", key, value)
	}
	return b, nil
}

// repeatedSection finds a section header that stands twice, by go-ini's
// rule for a header: a line that is "[NAME]" once trimmed.
func repeatedSection(raw string) (string, bool) {
	seen := map[string]bool{}
	for _, line := range strings.Split(raw, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "[") || !strings.HasSuffix(line, "]") {
			continue
		}
		name := strings.TrimSpace(line[1 : len(line)-1])
		if seen[name] {
			return name, true
		}
		seen[name] = true
	}
	return "", false
}
