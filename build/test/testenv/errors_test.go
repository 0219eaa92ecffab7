package testenv

import (
	"errors"
	"strings"
	"testing"
)

func TestOneErrorProblems(t *testing.T) {
	good := errors.New(`-port=0 is invalid: accepted is 1-65535`)
	if p := oneErrorProblems(good, []string{"-port=0", "1-65535"}); len(p) != 0 {
		t.Errorf("an error with everything wanted: got problems %q, want none", p)
	}
	for _, c := range []struct {
		name string
		err  error
		want string // in the one problem reported
	}{
		{"no error", nil, "got no error"},
		{"two errors", errors.Join(good, errors.New("-n=0 is invalid: accepted is 1 or more")), "several errors"},
		{"a wanted part missing", errors.New("-port=0 is invalid"), `want it to contain "1-65535"`},
	} {
		p := oneErrorProblems(c.err, []string{"-port=0", "1-65535"})
		if len(p) != 1 || !strings.Contains(p[0], c.want) {
			t.Errorf("%s: got problems %q, want one saying %q", c.name, p, c.want)
		}
	}
}
