package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// RequireOneError fails the test unless err is one error (a single line)
// that contains every string in want: the project's errors name the setting,
// the value and what is accepted, and a bad setting must not drag in
// complaints about good ones. what says what produced err.
func RequireOneError(t testing.TB, what string, err error, want ...string) {
	t.Helper()
	for _, problem := range oneErrorProblems(err, want) {
		t.Errorf("%s: %s", what, problem)
	}
}

// oneErrorProblems lists how err falls short of RequireOneError.
func oneErrorProblems(err error, want []string) []string {
	if err == nil {
		return []string{fmt.Sprintf("got no error, want one containing %q", want)}
	}
	var problems []string
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		problems = append(problems, fmt.Sprintf("got several errors, want only one:\n%s", msg))
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			problems = append(problems, fmt.Sprintf("error:\n got  %q\n want it to contain %q", msg, w))
		}
	}
	return problems
}
