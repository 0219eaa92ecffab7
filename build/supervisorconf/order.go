package supervisorconf

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// GuardSlack is how long past a program's stopwaitsecs the ordered stop
// waits before it SIGKILLs the program's process group itself and goes on.
// supervisord SIGKILLs the program at stopwaitsecs, so the guard acts only
// when supervisord does not; it keeps every program's stop within
// stopwaitsecs + GuardSlack, which build/test/stopbudget adds up against the
// grace period.
const GuardSlack = time.Second

// ChooseEngine checks LB_ENGINE's value against the image's engines.
// Nothing may start when it names none: supervisord would include no
// engine and the load balancer would run without one.
func ChooseEngine(value string, engines []string) error {
	if !slices.Contains(engines, value) {
		return fmt.Errorf("LB_ENGINE=%q is invalid: accepted is one of this image's load-balancer engines: %s", value, strings.Join(engines, " "))
	}
	return nil
}

// runningWith are the programs supervisord runs with engine picked: the
// shared ones and that engine's.
func runningWith(programs []Program, engine string) []Program {
	var running []Program
	for _, p := range programs {
		if p.Engine == "" || p.Engine == engine {
			running = append(running, p)
		}
	}
	return running
}

// StopOrder is the running programs in the order of order
// (SUPERVISORD_STOP_ORDER's value). It must name each running program
// exactly once: a program left out would be stopped at the same time as
// the others, a misspelt one never in order. It may also name the programs
// of the engines not picked (one order serves every engine); those are
// left out.
func StopOrder(order string, programs []Program, engine string) ([]Program, error) {
	running := runningWith(programs, engine)
	byName := map[string]Program{}
	for _, p := range running {
		byName[p.Name] = p
	}
	var stop []Program
	valid := true
	for _, name := range strings.Fields(order) {
		p, ok := byName[name]
		switch {
		case ok && !slices.ContainsFunc(stop, func(s Program) bool { return s.Name == name }):
			stop = append(stop, p)
		case !ok && slices.ContainsFunc(programs, func(p Program) bool { return p.Name == name && p.Engine != "" }):
			// an engine's that is not picked
		default:
			valid = false
		}
	}
	if !valid || len(stop) != len(running) {
		names := make([]string, 0, len(running))
		for _, p := range running {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("SUPERVISORD_STOP_ORDER=%q is invalid: accepted is each of this image's supervisord programs (%s) exactly once, in the order they must stop", order, strings.Join(names, " "))
	}
	return stop, nil
}
