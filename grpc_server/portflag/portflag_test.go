package portflag

import (
	"flag"
	"io"
	"testing"
)

func parse(args ...string) (int, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var p int
	Var(fs, &p, "port", 7777, "port")
	err := fs.Parse(args)
	return p, err
}

func TestVarDefaultAndEdges(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{{nil, 7777}, {[]string{"-port=1"}, 1}, {[]string{"-port=65535"}, 65535}} {
		got, err := parse(c.args...)
		if err != nil || got != c.want {
			t.Errorf("parse(%q): got %d (err %v), want %d", c.args, got, err, c.want)
		}
		if err := Check("port", got); err != nil {
			t.Errorf("Check(%d): got %v, want nil", got, err)
		}
	}
}

// A value that is not a number: the flag package names the flag and the
// value, and the range comes from the flag.
func TestVarRejectsNonNumbers(t *testing.T) {
	for _, arg := range []string{"-port=abc", "-port=", "-port=1.5"} {
		_, err := parse(arg)
		want := `invalid value "` + arg[len("-port="):] + `" for flag -port: accepted is 1-65535`
		if err == nil || err.Error() != want {
			t.Errorf("parse(%q): got error %v, want %q", arg, err, want)
		}
	}
}

func TestCheckRejectsOutOfRange(t *testing.T) {
	for p, want := range map[int]string{
		0:     "-port=0 is invalid: accepted is 1-65535",
		-1:    "-port=-1 is invalid: accepted is 1-65535",
		65536: "-port=65536 is invalid: accepted is 1-65535",
	} {
		if err := Check("port", p); err == nil || err.Error() != want {
			t.Errorf("Check(%d): got %v, want %q", p, err, want)
		}
	}
}
