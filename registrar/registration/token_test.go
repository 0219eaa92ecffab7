package registration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/consul/api"
)

// A token file is accepted when its first line holds the token and nothing
// but blank lines follow; Config keeps the path, not the token.
func TestConfigFromEnvTokenFile(t *testing.T) {
	for _, content := range []string{"tok\n", "tok", "  tok  \r\n", "tok\n\n  \n"} {
		path := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"APP_NAME": "ping", "APP_PORT": "7777", "CONSUL_HTTP_TOKEN_FILE": path}
		cfg, err := ConfigFromEnv(lookup(env))
		if err != nil {
			t.Errorf("token file holding %q: unexpected error: %v", content, err)
			continue
		}
		if cfg.TokenFile != path || cfg.Token != "" {
			t.Errorf("token file holding %q: got TokenFile %q, Token %q; want TokenFile %q, Token empty", content, cfg.TokenFile, cfg.Token, path)
		}
	}
}

// The registrar logs its errors; the token is a secret and must not be in them.
func TestConfigFromEnvKeepsTheTokenOutOfErrors(t *testing.T) {
	env := map[string]string{"APP_NAME": "ping", "APP_PORT": "7777",
		"CONSUL_HTTP_TOKEN": "s3cr3t-token", "CONSUL_HTTP_TOKEN_FILE": goodTokenFile}
	_, err := ConfigFromEnv(lookup(env))
	if err == nil || strings.Contains(err.Error(), "s3cr3t-token") {
		t.Errorf("ConfigFromEnv with both token settings: got error %v, want one that does not show the token", err)
	}
}

// tokenRecorder is a stand-in agent that answers /v1/agent/self and
// remembers the X-Consul-Token of the last request.
type tokenRecorder struct {
	mu    sync.Mutex
	token string
}

func (r *tokenRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.token = req.Header.Get("X-Consul-Token")
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"Member":{"Addr":"127.0.0.1"}}`))
}

func (r *tokenRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.token
}

// The agent receives the token the registrar validated, whatever consul/api
// finds in the process environment; where the environment would win,
// NewAgent refuses instead of sending a token nobody validated.
func TestNewAgentSendsTheConfiguredToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	configured := write("configured.token", "from-configured-file\n")
	other := write("other.token", "from-process-env-file\n")

	for _, tc := range []struct {
		name          string
		cfg           Config
		envToken      string // the process's CONSUL_HTTP_TOKEN
		envTokenFile  string // the process's CONSUL_HTTP_TOKEN_FILE
		want          string // token the agent receives
		wantNewAgentE string // or: NewAgent's error contains this
	}{
		{name: "token file", cfg: Config{TokenFile: configured}, want: "from-configured-file"},
		{name: "token file beats the env's file and token", cfg: Config{TokenFile: configured},
			envToken: "from-process-env", envTokenFile: other, want: "from-configured-file"},
		{name: "token", cfg: Config{Token: "from-config"}, want: "from-config"},
		{name: "token beats the env's token", cfg: Config{Token: "from-config"}, envToken: "from-process-env", want: "from-config"},
		{name: "same token as the env's", cfg: Config{Token: "same"}, envToken: "same", want: "same"},
		{name: "none", cfg: Config{}, want: ""},
		{name: "none, but the env has a token", cfg: Config{}, envToken: "from-process-env",
			wantNewAgentE: "CONSUL_HTTP_TOKEN (value not shown) is set in the process environment"},
		{name: "token, but the env has a token file", cfg: Config{Token: "same"}, envToken: "same", envTokenFile: other,
			wantNewAgentE: `CONSUL_HTTP_TOKEN_FILE="` + other + `" is set in the process environment`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(api.HTTPTokenEnvName, tc.envToken)
			t.Setenv(api.HTTPTokenFileEnvName, tc.envTokenFile)
			rec := &tokenRecorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			cfg := tc.cfg
			cfg.ConsulAddr = srv.URL

			agent, err := NewAgent(cfg)
			if tc.wantNewAgentE != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantNewAgentE) {
					t.Fatalf("NewAgent: got error %v, want one containing %q", err, tc.wantNewAgentE)
				}
				if strings.Contains(err.Error(), "from-process-env\"") {
					t.Errorf("NewAgent's error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewAgent: %v", err)
			}
			if _, err := agent.LANAddress(context.Background()); err != nil {
				t.Fatalf("LANAddress: %v", err)
			}
			if got := rec.last(); got != tc.want {
				t.Errorf("X-Consul-Token the agent received: got %q, want %q", got, tc.want)
			}
		})
	}
}
