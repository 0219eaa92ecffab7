//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMain repeats every failure message at the end of the run. The suite
// prints a great deal (each step's commands and load figures, and, when a
// scenario fails, every container's logs), so a message can end up
// thousands of lines before the end of the output, where a CI log that
// keeps only its tail never shows it.
func TestMain(m *testing.M) {
	os.Exit(runRepeatingFailures(m, os.Stdout))
}

// failureLine is how go test -v prints t.Errorf and t.Fatalf (the suite
// has no t.Log): "    file_test.go:123: message", each further line of
// the message indented deeper.
var failureLine = regexp.MustCompile(`^(\s+)[\w.-]+_test\.go:\d+: `)

// testLine names the test whose output follows.
var testLine = regexp.MustCompile(`^=== (?:RUN|CONT|NAME)\s+(\S+)`)

const (
	maxFailureLines = 40  // of one message
	maxLineLength   = 400 // characters of one line
)

// runRepeatingFailures runs the tests with their output passed on to out
// line by line, and, when they failed, prints each failure message again
// after them, with the test it belongs to.
func runRepeatingFailures(m *testing.M, out *os.File) int {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(out, "e2e: cannot collect failure messages (%v); they are printed only where they happen\n", err)
		return m.Run()
	}
	os.Stdout = w
	var failures []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		failures = passOnCollectingFailures(r, out)
	}()
	code := m.Run()
	os.Stdout = out
	w.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		// A process a test started still holds the pipe open.
		fmt.Fprintln(out, "e2e: the output pipe is still open 10 s after the tests ended; the failure summary is left out")
		return code
	}
	if code != 0 && len(failures) > 0 {
		fmt.Fprintf(out, "\n=== failures, repeated from above (%d)\n%s\n", len(failures), strings.Join(failures, "\n"))
	}
	return code
}

// passOnCollectingFailures copies r to out line by line and returns the
// failure messages in it, each headed by its test's name.
func passOnCollectingFailures(r io.Reader, out io.Writer) []string {
	var failures []string
	var current []string // the message being read
	indent := ""         // its first line's indentation
	test := ""
	reader := bufio.NewReader(r)
	for {
		line, err := reader.ReadString('\n')
		if line != "" {
			io.WriteString(out, line)
			text := strings.TrimRight(line, "\r\n")
			inMessage := current != nil && strings.HasPrefix(text, indent+" ")
			if current != nil && !inMessage {
				failures = append(failures, strings.Join(current, "\n"))
				current = nil
			}
			switch {
			case inMessage:
				if len(current) < maxFailureLines {
					current = append(current, clip(text))
				}
			case failureLine.MatchString(text):
				indent = failureLine.FindStringSubmatch(text)[1]
				current = []string{"--- " + test, clip(text)}
			case testLine.MatchString(text):
				test = testLine.FindStringSubmatch(text)[1]
			}
		}
		if err != nil {
			break
		}
	}
	if current != nil {
		failures = append(failures, strings.Join(current, "\n"))
	}
	return failures
}

func clip(line string) string {
	if len(line) > maxLineLength {
		return line[:maxLineLength] + " [...]"
	}
	return line
}
