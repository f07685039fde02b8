package h2

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// rawCodec carries []byte messages as they are ("application/grpc+raw"), so the test
// service needs no generated code; it still speaks protobuf for the health service.
type rawCodec struct{}

func (rawCodec) Name() string { return "raw" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case *[]byte:
		return *m, nil
	case proto.Message:
		return proto.Marshal(m)
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch m := v.(type) {
	case *[]byte:
		*m = append([]byte(nil), data...)
		return nil
	case proto.Message:
		return proto.Unmarshal(data, m)
	}
	return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
}

func init() { encoding.RegisterCodec(rawCodec{}) }

const failMessage = "bad name: ünïcode 100% done"

// echoService is registered by hand: a unary method and a bidirectional stream.
var echoService = grpc.ServiceDesc{
	ServiceName: "spider.test.v1.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in []byte
			if err := dec(&in); err != nil {
				return nil, err
			}
			if string(in) == "fail" {
				return nil, status.Error(codes.InvalidArgument, failMessage)
			}
			out := append([]byte("echo:"), in...)
			return &out, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName: "Chat", ServerStreams: true, ClientStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			for {
				var in []byte
				err := stream.RecvMsg(&in)
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				out := append([]byte("re:"), in...)
				if err := stream.SendMsg(&out); err != nil {
					return err
				}
			}
		},
	}},
}

func TestRealGRPC(t *testing.T) {
	l, rec := listenRecorded(t)
	srv := grpc.NewServer()
	hs := health.NewServer()
	grpc_health_v1.RegisterHealthServer(srv, hs)
	srv.RegisterService(&echoService, struct{}{})
	go func() { _ = srv.Serve(l) }()

	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+secret)
	hc := grpc_health_v1.NewHealthClient(cc)
	raw := grpc.CallContentSubtype("raw")

	if r, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{}); err != nil || r.Status != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", r, err)
	}
	if _, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("health nope: %v", err)
	}
	in, out := []byte("hi"), []byte(nil)
	if err := cc.Invoke(ctx, "/spider.test.v1.Echo/Unary", &in, &out, raw); err != nil || string(out) != "echo:hi" {
		t.Fatalf("unary: %q %v", out, err)
	}
	in = []byte("fail")
	if err := cc.Invoke(ctx, "/spider.test.v1.Echo/Unary", &in, &out, raw); status.Convert(err).Message() != failMessage {
		t.Fatalf("unary fail: %v", err)
	}
	cs, err := cc.NewStream(ctx, &echoService.Streams[0], "/spider.test.v1.Echo/Chat", raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"one", "two", "three"} {
		msg := []byte(m)
		if err := cs.SendMsg(&msg); err != nil {
			t.Fatal(err)
		}
		var reply []byte
		if err := cs.RecvMsg(&reply); err != nil || string(reply) != "re:"+m {
			t.Fatalf("chat: %q %v", reply, err)
		}
	}
	_ = cs.CloseSend()
	if err := cs.RecvMsg(&out); !errors.Is(err, io.EOF) {
		t.Fatalf("chat end: %v", err)
	}
	// A server stream the client gives up on: reset.
	wctx, wcancel := context.WithCancel(ctx)
	w, err := hc.Watch(wctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	wcancel()
	time.Sleep(100 * time.Millisecond)
	_ = cc.Close()
	srv.GracefulStop()

	got := replay(t, rec, 64<<10)
	type call struct {
		method   string
		status   string
		message  string
		reqBody  string
		respBody string
		err      string
	}
	var calls []call
	for _, e := range got {
		if e.Protocol != exchange.ProtoGRPC || e.GRPC == nil || e.Request.Method != "POST" {
			t.Errorf("%s %s: protocol %s grpc %v", e.Request.Method, e.Request.Path, e.Protocol, e.GRPC)
			continue
		}
		c := call{method: e.GRPC.Service + "/" + e.GRPC.Method, status: "nil", err: errOf(e)}
		if e.GRPC.Status != nil {
			c.status = fmt.Sprint(*e.GRPC.Status)
		}
		if e.GRPC.Message != nil {
			c.message = *e.GRPC.Message
		}
		if strings.HasPrefix(e.GRPC.Service, "spider.") {
			c.reqBody, c.respBody = messages(t, e.Request.Body), ""
			if e.Response != nil {
				c.respBody = messages(t, e.Response.Body)
			}
		}
		calls = append(calls, c)
		if v := headerValue(e.Request.Headers, "authorization"); v != exchange.Redacted {
			t.Errorf("%s: authorization %q", c.method, v)
		}
		if e.Request.Path != "/"+c.method {
			t.Errorf("path %q, service/method %q", e.Request.Path, c.method)
		}
	}
	want := []call{
		{method: "grpc.health.v1.Health/Check", status: "0"},
		{method: "grpc.health.v1.Health/Check", status: "5", message: "unknown service"},
		{method: "spider.test.v1.Echo/Unary", status: "0", reqBody: "hi", respBody: "echo:hi"},
		{method: "spider.test.v1.Echo/Unary", status: "3", message: failMessage, reqBody: "fail"},
		{method: "spider.test.v1.Echo/Chat", status: "0", reqBody: "one|two|three", respBody: "re:one|re:two|re:three"},
		{method: "grpc.health.v1.Health/Watch", status: "nil", err: "reset"},
	}
	if fmt.Sprintf("%+v", calls) != fmt.Sprintf("%+v", want) {
		t.Errorf("calls:\n got %+v\nwant %+v", calls, want)
	}
}

// messages splits a captured gRPC body into its length-prefixed messages.
func messages(t *testing.T, b *exchange.Body) string {
	if b == nil {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b.Text)
	if b.Encoding != "base64" || err != nil {
		t.Errorf("gRPC body %+v: %v", b, err)
		return ""
	}
	var out []string
	for len(raw) >= 5 {
		n := int(raw[1])<<24 | int(raw[2])<<16 | int(raw[3])<<8 | int(raw[4])
		if 5+n > len(raw) {
			t.Errorf("gRPC body cut: %x", raw)
			break
		}
		out = append(out, string(raw[5:5+n]))
		raw = raw[5+n:]
	}
	return strings.Join(out, "|")
}
