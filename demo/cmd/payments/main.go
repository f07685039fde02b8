// Command payments is the demo payments service: HTTP/1.1 charges on PORT (8080) and the
// payments.Ledger gRPC service plus gRPC health on GRPC_PORT (9090). ERROR_RATE and
// SLOW_RATE (0..1, default 0.05 each) inject 503s / UNAVAILABLE and 300-900 ms delays.
// GRPC_MAX_CONNECTION_AGE (default 20s) closes gRPC connections gracefully at that age:
// clients reconnect, so a whisperer attached later sees a connection start, which it needs
// to decode HTTP/2 (header compression state begins there).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/spider-backstage/spider/demo/internal/accesslog"
	"github.com/spider-backstage/spider/demo/internal/env"
	"github.com/spider-backstage/spider/demo/internal/faults"
	"github.com/spider-backstage/spider/demo/internal/ledger"
	"github.com/spider-backstage/spider/demo/internal/payments"
	"github.com/spider-backstage/spider/demo/internal/serve"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "payments")
	if err := run(log); err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	r := &env.Reader{Lookup: env.OS}
	port := r.Port("PORT", 8080)
	grpcPort := r.Port("GRPC_PORT", 9090)
	rates := faults.Defaults
	rates.Error = r.Float("ERROR_RATE", rates.Error, 0, 1)
	rates.Slow = r.Float("SLOW_RATE", rates.Slow, 0, 1)
	rates.SlowMin = r.Duration("SLOW_MIN", rates.SlowMin, 0, time.Minute)
	rates.SlowMax = r.Duration("SLOW_MAX", rates.SlowMax, 0, time.Minute)
	maxAge := r.Duration("GRPC_MAX_CONNECTION_AGE", 20*time.Second, time.Second, 24*time.Hour)
	if r.Err != nil {
		return r.Err
	}
	if err := rates.Validate(); err != nil {
		return fmt.Errorf("SLOW_MIN/SLOW_MAX: %w", err)
	}
	svc := payments.New(payments.Options{Faults: rates, Rand: rand.Float64, Log: log})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	glis, err := net.Listen("tcp", fmt.Sprintf(":%d", grpcPort))
	if err != nil {
		return err
	}
	gsrv := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: maxAge, MaxConnectionAgeGrace: 5 * time.Second}))
	gsrv.RegisterService(&ledger.ServiceDesc, svc)
	hs := health.NewServer()
	hs.SetServingStatus("payments.Ledger", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gsrv, hs)
	gerr := make(chan error, 1)
	go func() { gerr <- gsrv.Serve(glis) }()
	log.Info("listening", "addr", glis.Addr().String(), "protocol", "grpc")

	hlis, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		gsrv.Stop()
		return err
	}
	log.Info("starting", "errorRate", rates.Error, "slowRate", rates.Slow)
	herr := serve.HTTP(ctx, log, hlis, accesslog.Handler(log, svc.Handler()))
	hs.Shutdown()
	stopped := make(chan struct{})
	go func() { gsrv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(serve.ShutdownGrace):
		gsrv.Stop()
	}
	if herr != nil {
		return herr
	}
	select {
	case err := <-gerr:
		if err != nil && err != grpc.ErrServerStopped {
			return err
		}
	default:
	}
	log.Info("stopped")
	return nil
}
