// Package ghzload runs ghz (bin/ghz, which `make tools` builds from the
// pinned build/test/tools/ghz) against the Ping service with the project's
// settings, and turns its JSON report into a summary: calls, failures, each
// error message with its count, and failures per time window (for example
// between two nginx reloads).
//
// ghz v0.93.0 is built on grpc-go v1.34.0, which retries a call that a
// GOAWAY left unprocessed transparently only on the call's first attempt
// (retries are otherwise off), so calls racing a GOAWAY reach its report as
// "Unavailable: the connection is draining" (build/test/goaway measures this
// through nginx reloads). The project's own client, on a current grpc-go,
// retries them transparently and never shows them.
package ghzload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Call is the method ghz calls, and DrainingMessage the text of the error a
// call refused by a GOAWAY ends with in grpc-go v1.34.0 (errStreamDrain).
const (
	Call            = "protos.Ping.SayHello"
	DrainingMessage = "the connection is draining"
)

// Config is one ghz run. Zero values take ghz's own defaults where the field
// says so.
type Config struct {
	// Ghz is the path of the ghz binary (testenv.Tool(t, "ghz")).
	Ghz string
	// Proto is the path of protos/api.proto.
	Proto string
	// Target is the host:port of nginx or of one server.
	Target string
	// Concurrency is ghz -c, the calls in flight (0: 50).
	Concurrency int
	// Connections is ghz --connections, the HTTP/2 connections the workers
	// share (0: 1).
	Connections int
	// Duration is ghz -z; when it is 0, Calls calls are made (ghz -n).
	Duration time.Duration
	Calls    int
	// Rate is ghz --rps, calls per second (0: as fast as the workers go).
	Rate int
	// Timeout is each call's deadline (0: 5 s, as grpc_client).
	Timeout time.Duration
	// Greeting is sent in each PingMessage (empty: "hello").
	Greeting string
	// Method and Data call another method than Call with Data (JSON) as
	// each request, for example protos.Echo.Unary with Proto echo.proto;
	// Greeting is then unused. Empty: Call with the greeting.
	Method, Data string
}

// Args are the ghz command-line arguments for c, JSON report on stdout.
// When the duration ends, calls in flight are waited for
// (--duration-stop=wait): ghz's default closes the connections under them,
// which would add failures the deployment did not cause.
func (c Config) Args() ([]string, error) {
	if c.Proto == "" || c.Target == "" {
		return nil, errors.New("ghzload: Proto and Target are required")
	}
	if c.Duration < 0 || c.Calls < 0 || c.Rate < 0 || c.Concurrency < 0 || c.Connections < 0 || c.Timeout < 0 {
		return nil, fmt.Errorf("ghzload: negative setting in %+v", c)
	}
	if c.Duration == 0 && c.Calls == 0 {
		return nil, errors.New("ghzload: set Duration or Calls")
	}
	greeting, _ := json.Marshal(map[string]string{"greeting": cmp(c.Greeting, "hello")})
	method, data := Call, string(greeting)
	if c.Method != "" {
		method, data = c.Method, c.Data
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	args := []string{
		"--insecure",
		"--proto", c.Proto,
		"--call", method,
		"-d", data,
		"-c", strconv.Itoa(cmpInt(c.Concurrency, 50)),
		"--connections", strconv.Itoa(cmpInt(c.Connections, 1)),
		"-t", timeout.String(),
		"-O", "json",
	}
	if c.Duration > 0 {
		args = append(args, "-z", c.Duration.String(), "--duration-stop", "wait")
	} else {
		args = append(args, "-n", strconv.Itoa(c.Calls))
	}
	if c.Rate > 0 {
		args = append(args, "--rps", strconv.Itoa(c.Rate))
	}
	return append(args, c.Target), nil
}

// Run runs ghz to the end and returns its parsed report and its raw JSON.
func Run(ctx context.Context, c Config) (*Report, []byte, error) {
	args, err := c.Args()
	if err != nil {
		return nil, nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, c.Ghz, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stdout.Bytes(), fmt.Errorf("ghz %s: %v; stderr: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	rep, err := Parse(stdout.Bytes())
	if err != nil {
		return nil, stdout.Bytes(), fmt.Errorf("ghz %s: %v; stderr: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return rep, stdout.Bytes(), nil
}

// Report is the part of ghz's JSON report (-O json) the project reads.
type Report struct {
	Date      time.Time `json:"date"`
	EndReason string    `json:"endReason"`
	// Count is the number of calls; Total the run's length.
	Count uint64        `json:"count"`
	Total time.Duration `json:"total"`
	Rps   float64       `json:"rps"`
	// ErrorDist counts each error's text, e.g. "rpc error: code =
	// Unavailable desc = the connection is draining".
	ErrorDist map[string]int `json:"errorDistribution"`
	// StatusCodeDist counts each status code's name ("OK", "Unavailable").
	StatusCodeDist map[string]int `json:"statusCodeDistribution"`
	// Details has one entry per call, at most 1,000,000 of them.
	Details []Detail `json:"details"`
}

// Detail is one call. Timestamp is when the call ended (ghz records the end
// time its stats handler saw).
type Detail struct {
	Timestamp time.Time     `json:"timestamp"`
	Latency   time.Duration `json:"latency"`
	Error     string        `json:"error"`
	Status    string        `json:"status"`
}

// Parse reads ghz's JSON report and checks that it is one.
func Parse(data []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not a ghz JSON report: %v", err)
	}
	if r.StatusCodeDist == nil && r.Count > 0 {
		return nil, errors.New("not a ghz JSON report: no statusCodeDistribution")
	}
	sum := 0
	for _, n := range r.StatusCodeDist {
		sum += n
	}
	if uint64(sum) != r.Count {
		return nil, fmt.Errorf("ghz report: statusCodeDistribution adds up to %d calls, count says %d", sum, r.Count)
	}
	return &r, nil
}

// Summary is what a test or the benchmark reads from one ghz run.
type Summary struct {
	Calls  int `json:"calls"`
	OK     int `json:"ok"`
	Failed int `json:"failed"`
	// Codes counts the status codes; Errors each error message, as ghz
	// writes it ("rpc error: code = Unavailable desc = ...").
	Codes  map[string]int `json:"codes"`
	Errors map[string]int `json:"errors"`
	// DurationS is the run's length and CallsPerSecond ghz's rate.
	DurationS      float64 `json:"duration_s"`
	CallsPerSecond float64 `json:"calls_per_second"`
	// DetailsComplete is false when ghz kept fewer per-call details than it
	// made calls, so Windows undercount.
	DetailsComplete bool `json:"details_complete"`
	// Windows split the calls by the marks Summarize was given: window 0
	// ends at the first mark, window i starts at mark i-1.
	Windows []Window `json:"windows"`
}

// Window counts the calls that ended in [Start, End); a zero Start or End
// is open.
type Window struct {
	Start  time.Time      `json:"start"`
	End    time.Time      `json:"end"`
	Calls  int            `json:"calls"`
	Failed int            `json:"failed"`
	Errors map[string]int `json:"errors"`
}

// Summarize counts r's calls, overall and per window between marks (for
// example the times of nginx reloads; they are sorted first).
func Summarize(r *Report, marks ...time.Time) Summary {
	s := Summary{
		Calls:           int(r.Count),
		OK:              r.StatusCodeDist["OK"],
		Codes:           map[string]int{},
		Errors:          map[string]int{},
		DurationS:       r.Total.Seconds(),
		CallsPerSecond:  r.Rps,
		DetailsComplete: uint64(len(r.Details)) == r.Count,
	}
	s.Failed = s.Calls - s.OK
	for code, n := range r.StatusCodeDist {
		s.Codes[code] = n
	}
	for msg, n := range r.ErrorDist {
		s.Errors[msg] = n
	}
	marks = append([]time.Time(nil), marks...)
	sort.Slice(marks, func(i, j int) bool { return marks[i].Before(marks[j]) })
	s.Windows = make([]Window, len(marks)+1)
	for i := range s.Windows {
		if i > 0 {
			s.Windows[i].Start = marks[i-1]
		}
		if i < len(marks) {
			s.Windows[i].End = marks[i]
		}
		s.Windows[i].Errors = map[string]int{}
	}
	for _, d := range r.Details {
		// The first window whose end is after the call's end.
		i := sort.Search(len(marks), func(i int) bool { return d.Timestamp.Before(marks[i]) })
		w := &s.Windows[i]
		w.Calls++
		if d.Status != "OK" {
			w.Failed++
			w.Errors[d.Error]++
		}
	}
	return s
}

// Matching counts the failed calls whose error message contains substr.
func (s Summary) Matching(substr string) int {
	n := 0
	for msg, c := range s.Errors {
		if strings.Contains(msg, substr) {
			n += c
		}
	}
	return n
}

// Matching counts the window's failed calls whose message contains substr.
func (w Window) Matching(substr string) int {
	n := 0
	for msg, c := range w.Errors {
		if strings.Contains(msg, substr) {
			n += c
		}
	}
	return n
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cmpInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
