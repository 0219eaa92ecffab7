package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// StartNginx runs a real nginx in the foreground that load-balances gRPC on
// 127.0.0.1 over upstreamAddrs (round robin, keepalive), like the
// deployment's consul-template output. It returns nginx's address once nginx
// accepts connections and stops nginx (master and workers) when the test ends.
func StartNginx(t testing.TB, upstreamAddrs []string) string {
	t.Helper()
	if _, err := os.Stat(NginxBin()); err != nil {
		t.Fatalf("nginx is missing (make proxy-packages makes it): %v", err)
	}
	if len(upstreamAddrs) == 0 {
		t.Fatal("StartNginx: no upstream addresses")
	}
	dir := t.TempDir()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(dir, addr, upstreamAddrs)), 0o644); err != nil {
		t.Fatal(err)
	}

	runNginx(t, dir, conf, addr)
	return addr
}

func nginxConfig(dir, addr string, upstreams []string) string {
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "        server %s;\n", u)
	}
	user := ""
	if os.Geteuid() == 0 {
		// As root nginx would run its workers as nobody, who cannot enter
		// the test's private temporary directory.
		user = "user root;\n"
	}
	return user + `daemon off;
master_process on;
worker_processes 1;
error_log stderr warn;
pid ` + filepath.Join(dir, "nginx.pid") + `;

events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path ` + filepath.Join(dir, "client_body") + `;
    proxy_temp_path ` + filepath.Join(dir, "proxy") + `;
    fastcgi_temp_path ` + filepath.Join(dir, "fastcgi") + `;
    uwsgi_temp_path ` + filepath.Join(dir, "uwsgi") + `;
    scgi_temp_path ` + filepath.Join(dir, "scgi") + `;

    upstream grpc_servers {
` + servers.String() + `        keepalive 32;
    }

    server {
        listen ` + addr + `;
        http2 on;

        location / {
            grpc_pass grpc://grpc_servers;
        }
    }
}
`
}
