package supervisorconf

import (
	"cmp"
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

// StopOrder is the running programs (the shared ones and engine's) in the
// order they stop: from the highest priority to the lowest, supervisor's
// own meaning of priority ("lower priorities indicate programs that start
// first and shut down last"). Each running program must set its priority,
// and no two the same one: without one a program would take supervisord's
// default, 999, and stop first, an order nobody wrote down; two of the same
// priority would stop in an order nobody chose. The first such program is
// the error, one line.
func StopOrder(programs []Program, engine string) ([]Program, error) {
	stop := runningWith(programs, engine)
	slices.SortStableFunc(stop, func(a, b Program) int { return cmp.Compare(b.Priority, a.Priority) })
	for i, p := range stop {
		if !p.HasPriority {
			return nil, fmt.Errorf("%s: program %s: priority is not set: %s", p.File, p.Name, acceptedPriority)
		}
		if i > 0 && stop[i-1].Priority == p.Priority {
			o := stop[i-1]
			return nil, fmt.Errorf("%s: program %s: priority=%d is invalid: %s; program %s (%s) has %d too",
				p.File, p.Name, p.Priority, acceptedPriority, o.Name, o.File, o.Priority)
		}
	}
	return stop, nil
}

// acceptedPriority is what StopOrder accepts of a running program.
const acceptedPriority = "accepted is a whole number that no other program the container runs has (the highest stops first)"
