//lint:file-ignore SA1019 x/net h2c is the only server with the h2c upgrade (runH2CServer)

package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// runH2CServer answers HTTP/1.1 requests that ask to upgrade to h2c (RFC 7540 3.2).
// x/net's h2c is deprecated, but net/http's own unencrypted HTTP/2 speaks prior knowledge
// only, and the upgrade is what this server is here to exercise.
func runH2CServer() int {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "upgraded %s %s\n", r.Proto, r.URL.Path)
	})
	l, err := net.Listen("tcp", os.Getenv("SW_LISTEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return serve(l, h2c.NewHandler(h, &http2.Server{}))
}

// runGRPCServer serves the standard health service.
func runGRPCServer() int {
	l, err := net.Listen("tcp", os.Getenv("SW_LISTEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	if err := s.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// runGRPCClient makes two health checks: one OK, one NOT_FOUND (status 5).
func runGRPCClient() int {
	conn, err := grpc.NewClient(os.Getenv("SW_TARGET"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close()
	c := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		return 1
	}
	if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); err == nil {
		fmt.Fprintln(os.Stderr, "check nope: want NOT_FOUND")
		return 1
	}
	return 0
}

// runGRPCMidStreamClient makes health checks on one connection before and after the
// whisperer attaches: three OK checks, then SW_DIR/before.done, then, once SW_DIR/go
// exists, one OK check and one NOT_FOUND.
func runGRPCMidStreamClient() int {
	conn, err := grpc.NewClient(os.Getenv("SW_TARGET"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close()
	c := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for range 3 {
		if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			fmt.Fprintln(os.Stderr, "check before:", err)
			return 1
		}
	}
	dir := os.Getenv("SW_DIR")
	if err := os.WriteFile(filepath.Join(dir, "before.done"), nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "no go file")
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		fmt.Fprintln(os.Stderr, "check after:", err)
		return 1
	}
	if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); err == nil {
		fmt.Fprintln(os.Stderr, "check nope: want NOT_FOUND")
		return 1
	}
	return 0
}
