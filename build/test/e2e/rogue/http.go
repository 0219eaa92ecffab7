package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The rogue registrations: a hello_server instance at an address the
// attacker controls, which nginx would route to if Consul took it.
const (
	agentRegisterBody   = `{"ID":"rogue","Name":"hello_server","Address":"10.9.9.9","Port":7777}`
	catalogRegisterBody = `{"Node":"rogue","Address":"10.9.9.9","Service":{"Service":"hello_server","Port":7777}}`
	catalogDeregBody    = `{"Node":"rogue"}`
)

// httpFlags are the flags of the HTTP API attacks.
type httpFlags struct {
	base  string // http://host:port
	token string
}

func parseHTTPFlags(name string, args []string, stderr io.Writer) (httpFlags, *result) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "the Consul agent's HTTP API, host:port (or http://host:port)")
	tokenFile := fs.String("token-file", "", "a file holding the ACL token to send (none: the anonymous token)")
	if err := fs.Parse(args); err != nil {
		r := usageError(stderr, "%s: %v", name, err)
		return httpFlags{}, &r
	}
	if *addr == "" || fs.NArg() != 0 {
		r := usageError(stderr, "%s: -addr is required and no arguments are taken", name)
		return httpFlags{}, &r
	}
	f := httpFlags{base: *addr}
	if !strings.Contains(f.base, "://") {
		f.base = "http://" + f.base
	}
	f.base = strings.TrimSuffix(f.base, "/")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			r := usageError(stderr, "%s: reading the token: %v", name, err)
			return httpFlags{}, &r
		}
		f.token = strings.TrimSpace(string(b))
		if f.token == "" {
			r := usageError(stderr, "%s: the token file %s is empty", name, *tokenFile)
			return httpFlags{}, &r
		}
	}
	return f, nil
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// put sends body to path and returns the status and the body of the answer.
func (f httpFlags) put(path, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPut, f.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if f.token != "" {
		req.Header.Set("X-Consul-Token", f.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(bytes.TrimSpace(b)), err
}

func (f httpFlags) who() string {
	if f.token == "" {
		return "without a token"
	}
	return "with the given token"
}

// register PUTs a rogue registration: refused is HTTP 403; a registration
// that was accepted is undone with undo (a PUT of undoBody) before returning.
func register(f httpFlags, path, body, undoPath, undoBody string) result {
	status, answer, err := f.put(path, body)
	if err != nil {
		return failed("PUT %s%s %s: %v", f.base, path, f.who(), err)
	}
	switch status {
	case http.StatusForbidden:
		return refused("PUT %s %s: HTTP %d %q", path, f.who(), status, answer)
	case http.StatusOK:
		ustatus, uanswer, uerr := f.put(undoPath, undoBody)
		undone := fmt.Sprintf("removed again (PUT %s: HTTP %d)", undoPath, ustatus)
		switch {
		case uerr != nil:
			undone = fmt.Sprintf("NOT removed again: PUT %s: %v", undoPath, uerr)
		case ustatus != http.StatusOK:
			undone = fmt.Sprintf("NOT removed again: PUT %s: HTTP %d %q", undoPath, ustatus, uanswer)
		}
		return accepted("PUT %s %s: HTTP %d %q: the rogue hello_server 10.9.9.9:7777 was registered; %s", path, f.who(), status, answer, undone)
	default:
		return failed("PUT %s %s: HTTP %d %q (expected 403 refused or 200 accepted)", path, f.who(), status, answer)
	}
}

func agentRegister(args []string, stderr io.Writer) result {
	f, bad := parseHTTPFlags("agent-register", args, stderr)
	if bad != nil {
		return *bad
	}
	return register(f, "/v1/agent/service/register", agentRegisterBody, "/v1/agent/service/deregister/rogue", "")
}

func catalogRegister(args []string, stderr io.Writer) result {
	f, bad := parseHTTPFlags("catalog-register", args, stderr)
	if bad != nil {
		return *bad
	}
	return register(f, "/v1/catalog/register", catalogRegisterBody, "/v1/catalog/deregister", catalogDeregBody)
}
