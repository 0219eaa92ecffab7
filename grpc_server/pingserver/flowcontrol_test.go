package pingserver_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"

	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
	"github.com/grpc-lb/nginx-consul/protos"
)

// Behind nginx every call comes alone on its upstream connection. With
// -flow-control=static the server must answer such calls without a PING or
// a WINDOW_UPDATE per call; with dynamic (grpc-go's estimator) it sends
// them, which is what static removes. The peer here is a raw HTTP/2 client
// that sends one call at a time, as nginx does, and counts the frames.
func TestFlowControlStaticSendsNoPingPerCall(t *testing.T) {
	const calls = 50
	for _, c := range []struct {
		mode      string
		wantPings bool
	}{
		{pingserver.FlowControlStatic, false},
		{pingserver.FlowControlDynamic, true},
	} {
		t.Run(c.mode, func(t *testing.T) {
			pings, updates := framesPerCalls(t, c.mode, calls)
			t.Logf("-flow-control=%s: %d calls, the server sent %d PING and %d WINDOW_UPDATE frames", c.mode, calls, pings, updates)
			if c.wantPings && pings == 0 {
				t.Errorf("-flow-control=%s: expected grpc-go's estimator to send PINGs, received none (the comparison would prove nothing)", c.mode)
			}
			// Static: at most the one WINDOW_UPDATE that opens the 16 MiB
			// connection window at the start, none per call.
			if !c.wantPings && (pings != 0 || updates > 1) {
				t.Errorf("-flow-control=%s: expected no PING and at most the connection's first WINDOW_UPDATE, received %d PING and %d WINDOW_UPDATE frames", c.mode, pings, updates)
			}
		})
	}
}

// -flow-control=dynamic behaves as a stock grpc-go server (grpc.NewServer()
// with no option) on the wire: the same calls draw the same PING and
// WINDOW_UPDATE frames. So the end-to-end suite's replicas with dynamic
// stand for the servers users bring.
func TestFlowControlDynamicIsAStockServer(t *testing.T) {
	const calls = 50
	stock := grpc.NewServer()
	protos.RegisterPingServer(stock, &pingserver.Ping{Hostname: "stock"})
	stockPings, stockUpdates := framesPerCallsTo(t, stock, calls)
	pings, updates := framesPerCalls(t, pingserver.FlowControlDynamic, calls)
	t.Logf("%d calls: stock server %d PING and %d WINDOW_UPDATE frames; -flow-control=dynamic %d and %d", calls, stockPings, stockUpdates, pings, updates)
	if stockPings == 0 {
		t.Fatal("the stock server sent no PING: the comparison would prove nothing")
	}
	if pings != stockPings || updates != stockUpdates {
		t.Errorf("-flow-control=dynamic: expected the stock server's %d PING and %d WINDOW_UPDATE frames, received %d and %d", stockPings, stockUpdates, pings, updates)
	}
}

// framesPerCalls makes calls SayHello calls one after the other on one
// connection to a server with the given flow control, and counts the PING
// (not ACK) and WINDOW_UPDATE frames the server sent.
func framesPerCalls(t *testing.T, mode string, calls int) (pings, updates int) {
	t.Helper()
	srv := pingserver.New(pingserver.Config{ShutdownTimeout: time.Second, FlowControl: mode}, "flow", t.Logf)
	return framesPerCallsTo(t, srv.GRPC, calls)
}

// framesPerCallsTo is framesPerCalls against srv, which serves protos.Ping.
func framesPerCallsTo(t *testing.T, srv *grpc.Server, calls int) (pings, updates int) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := net.DialTimeout("tcp", lis.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	// An empty HelloRequest: the gRPC message prefix (not compressed,
	// length 0).
	message := []byte{0, 0, 0, 0, 0}
	for i := 0; i < calls; i++ {
		stream := uint32(2*i + 1)
		block.Reset()
		for _, h := range [][2]string{
			{":method", "POST"}, {":scheme", "http"}, {":path", "/protos.Ping/SayHello"},
			{":authority", "flow"}, {"content-type", "application/grpc"}, {"te", "trailers"},
		} {
			_ = enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(stream, true, message); err != nil {
			t.Fatal(err)
		}
		// Read until the call's trailers (HEADERS with END_STREAM).
		for done := false; !done; {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("call %d: reading frames: %v", i+1, err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					if err := fr.WriteSettingsAck(); err != nil {
						t.Fatal(err)
					}
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					pings++
					if err := fr.WritePing(true, f.Data); err != nil {
						t.Fatal(err)
					}
				}
			case *http2.WindowUpdateFrame:
				updates++
			case *http2.GoAwayFrame:
				t.Fatalf("call %d: GOAWAY %v", i+1, f.ErrCode)
			case *http2.RSTStreamFrame:
				t.Fatalf("call %d: RST_STREAM %v", i+1, f.ErrCode)
			case *http2.HeadersFrame:
				done = f.StreamID == stream && f.StreamEnded()
			}
		}
	}
	return pings, updates
}
