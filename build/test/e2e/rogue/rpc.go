package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"syscall"
	"time"
)

// The first byte of a connection to a Consul server's RPC port (8300) names
// the protocol that follows (Consul v1.13.9 agent/pool/conn.go).
const (
	rpcConsul byte = 0x00 // RPCConsul: msgpack net/rpc, plaintext
	rpcTLS    byte = 0x03 // RPCTLS: a TLS handshake, then another type byte inside
)

// Not probed: RPCTLSInsecure (0x07) is served without a client certificate
// even with verify_incoming, but only by the insecure RPC server, which has
// AutoEncrypt.Sign (refused unless auto_encrypt.allow_tls, and then it needs
// an ACL token allowed to write the node or service it signs for) and
// AutoConfig.InitialConfiguration (refused unless auto_config.authorization
// is configured, then it needs a valid JWT).

// pingRequest is a msgpack net/rpc call of Status.Ping (no ACL needed): the
// request header {ServiceMethod, Seq} and an empty body. A server that
// serves the connection answers it; one that refused it has closed it.
var pingRequest = func() []byte {
	b := []byte{0x82} // map of 2
	b = append(b, 0xa0|13)
	b = append(b, "ServiceMethod"...)
	b = append(b, 0xa0|11)
	b = append(b, "Status.Ping"...)
	b = append(b, 0xa0|3)
	b = append(b, "Seq"...)
	b = append(b, 0x01) // Seq 1
	b = append(b, 0x80) // body: empty map (EmptyReadRequest)
	return b
}()

const (
	dialTimeout   = 5 * time.Second
	plainWait     = 5 * time.Second // the server closes at once; Consul's handshake timeout is 5 s
	handshakeWait = 5 * time.Second
	attackRead    = 3 * time.Second // a certless/foreign-cert probe: a refusal arrives well within this
	controlRead   = 1 * time.Second // the control: the server waits (up to 5 s) for the inner type byte
	pingWait      = 3 * time.Second
)

type rpcFlags struct {
	addr, mode, ca, cert, key, serverName string
}

func rpcProbe(args []string, stderr io.Writer) result {
	fs := flag.NewFlagSet("rpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f rpcFlags
	fs.StringVar(&f.addr, "addr", "", "a Consul server's RPC port, host:8300")
	fs.StringVar(&f.mode, "mode", "", "plain, tls-nocert, tls-othercert or tls-validcert")
	fs.StringVar(&f.ca, "ca", "", "PEM CA that signed the server certificate (none: the server certificate is not verified)")
	fs.StringVar(&f.cert, "cert", "", "PEM client certificate signed by the project CA (tls-validcert)")
	fs.StringVar(&f.key, "key", "", "PEM key of -cert")
	fs.StringVar(&f.serverName, "server-name", "server.dc1.consul", "name the server certificate is verified against (with -ca)")
	if err := fs.Parse(args); err != nil {
		return usageError(stderr, "rpc: %v", err)
	}
	if f.addr == "" || fs.NArg() != 0 {
		return usageError(stderr, "rpc: -addr is required and no arguments are taken")
	}
	switch f.mode {
	case "plain":
		return probePlain(f.addr)
	case "tls-nocert", "tls-othercert", "tls-validcert":
	default:
		return usageError(stderr, "rpc: -mode %q: expected plain, tls-nocert, tls-othercert or tls-validcert", f.mode)
	}

	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.serverName}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return usageError(stderr, "rpc: -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usageError(stderr, "rpc: -ca %s holds no PEM certificate", f.ca)
		}
		cfg.RootCAs = pool
	} else {
		cfg.InsecureSkipVerify = true
	}

	var client *tls.Certificate
	what := "no client certificate"
	switch f.mode {
	case "tls-othercert":
		c, err := throwawayClientCert()
		if err != nil {
			return failed("generating the throwaway CA and client certificate: %v", err)
		}
		client, what = c, "a client certificate from a throwaway CA"
	case "tls-validcert":
		if f.cert == "" || f.key == "" {
			return usageError(stderr, "rpc: -mode tls-validcert needs -cert and -key signed by the project CA")
		}
		c, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return usageError(stderr, "rpc: -cert/-key: %v", err)
		}
		client, what = &c, "the -cert client certificate"
	default:
		if f.cert != "" || f.key != "" {
			return usageError(stderr, "rpc: -cert/-key are for -mode tls-validcert only")
		}
	}
	return probeTLS(f.addr, cfg, client, what, f.mode == "tls-validcert")
}

// dial connects, and reports nothing listening as an error (exit 2), never
// as a refusal.
func dial(addr string) (net.Conn, *result) {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		r := failed("connecting to %s: %v", addr, err)
		return nil, &r
	}
	return conn, nil
}

// probePlain speaks plaintext RPC: refused is the server closing the
// connection (verify_incoming: "Non-TLS connection attempted with
// VerifyIncoming set", agent/consul/rpc.go handleConn).
func probePlain(addr string) result {
	conn, bad := dial(addr)
	if bad != nil {
		return *bad
	}
	defer conn.Close()
	if _, err := conn.Write(append([]byte{rpcConsul}, pingRequest...)); err != nil {
		if closedByPeer(err) {
			return refused("%s closed the connection on the plaintext RPCConsul byte: %v", addr, err)
		}
		return failed("writing to %s: %v", addr, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(plainWait))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	switch {
	case n > 0:
		return accepted("%s answered Status.Ping over plaintext RPC (%d bytes): the server serves RPC without TLS", addr, n)
	case closedByPeer(err):
		return refused("%s closed the connection after the plaintext RPCConsul byte: %v", addr, err)
	case timedOut(err):
		return accepted("%s kept the plaintext RPC connection open for %s without closing it", addr, plainWait)
	default:
		return failed("reading from %s: %v", addr, err)
	}
}

// probeTLS sends RPCTLS and a TLS handshake with client as the client
// certificate (nil: none). Consul with verify_incoming demands and verifies
// one (tls.RequireAndVerifyClientCert, tlsutil commonTLSConfig). Under TLS
// 1.3 the client's handshake ends before the server checked the certificate,
// so the server's alert arrives on the first read. A read that times out
// instead means the server accepted the connection and waits for the inner
// type byte; a Status.Ping then shows what the connection is worth.
func probeTLS(addr string, cfg *tls.Config, client *tls.Certificate, what string, control bool) result {
	requested, sent := false, false
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		requested = true
		// Sent regardless of the CAs the server names as acceptable: Go would
		// otherwise withhold a certificate from another CA.
		if client == nil {
			return &tls.Certificate{}, nil
		}
		sent = true
		return client, nil
	}
	conn, bad := dial(addr)
	if bad != nil {
		return *bad
	}
	defer conn.Close()

	refusedWith := func(step string, err error) result {
		req := "the server asked for a client certificate and was sent none"
		if sent {
			req = "the server asked for a client certificate and was sent one"
		}
		if !requested {
			req = "the server did not ask for a client certificate"
		}
		if control {
			return result{code: exitAccepted, label: "CONTROL FAILED:",
				msg: fmt.Sprintf("%s with %s was refused at the %s (%s): %v; the probe cannot tell refused from accepted", addr, what, step, req, err)}
		}
		return refused("%s refused RPCTLS with %s at the %s (%s): %v", addr, what, step, req, err)
	}

	if _, err := conn.Write([]byte{rpcTLS}); err != nil {
		if closedByPeer(err) {
			return refusedWith("RPCTLS byte", err)
		}
		return failed("writing to %s: %v", addr, err)
	}
	tc := tls.Client(conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(handshakeWait))
	if err := tc.Handshake(); err != nil {
		if closedByPeer(err) {
			return refusedWith("handshake", err)
		}
		return failed("TLS handshake with %s: %v", addr, err)
	}
	wait := attackRead
	if control {
		wait = controlRead
	}
	_ = tc.SetDeadline(time.Now().Add(wait))
	buf := make([]byte, 512)
	n, err := tc.Read(buf)
	switch {
	case n > 0:
		return failed("%s sent %d bytes before any request, over TLS with %s", addr, n, what)
	case closedByPeer(err):
		return refusedWith("first read after the handshake", err)
	case !timedOut(err):
		return failed("reading from %s over TLS: %v", addr, err)
	}
	state := tc.ConnectionState()
	ping := pingOver(tc)
	if control {
		return result{code: exitRefused, label: "CONTROL OK (accepted, as expected):",
			msg: fmt.Sprintf("%s accepted RPCTLS with %s (%s): the %s read timed out, the server waits for a request; %s", addr, what, tls.VersionName(state.Version), wait, ping)}
	}
	req := "without asking for a client certificate"
	if requested {
		req = "although it asked for a client certificate"
	}
	return accepted("%s accepted RPCTLS with %s (%s), %s: the %s read timed out, the server waits for a request; %s", addr, what, tls.VersionName(state.Version), req, wait, ping)
}

// pingOver sends RPCConsul and Status.Ping inside an accepted TLS connection
// and says whether it was answered.
func pingOver(tc *tls.Conn) string {
	_ = tc.SetDeadline(time.Now().Add(pingWait))
	if _, err := tc.Write(append([]byte{rpcConsul}, pingRequest...)); err != nil {
		return fmt.Sprintf("sending Status.Ping failed: %v", err)
	}
	buf := make([]byte, 512)
	n, err := tc.Read(buf)
	if n > 0 {
		return fmt.Sprintf("Status.Ping inside it was answered (%d bytes)", n)
	}
	return fmt.Sprintf("Status.Ping inside it was not answered: %v", err)
}

// closedByPeer is the server ending the connection: EOF, a reset, or a TLS
// alert it sent.
func closedByPeer(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error" // crypto/tls: an alert from the peer
}

func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// throwawayClientCert makes a CA in memory and a client certificate it
// signed that looks like a Consul server's (server.dc1.consul), the way an
// attacker would forge one without the project CA's key.
func throwawayClientCert() (*tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Consul Agent CA rogue"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "server.dc1.consul"},
		DNSNames:     []string{"server.dc1.consul", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}, nil
}
