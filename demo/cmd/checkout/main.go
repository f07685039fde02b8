// Command checkout is the demo checkout service: its HTTP/1.1 API on PORT (8080), calling
// payments over HTTP/1.1 (PAYMENTS_URL, default http://payments:8080, keep-alive) and gRPC
// (PAYMENTS_GRPC, default payments:9090), and a built-in load loop that sends LOAD_RATE
// requests per second (default 2; 0 turns it off) to its own API so there is always traffic.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/spider-backstage/spider/demo/internal/accesslog"
	"github.com/spider-backstage/spider/demo/internal/checkout"
	"github.com/spider-backstage/spider/demo/internal/env"
	"github.com/spider-backstage/spider/demo/internal/ledger"
	"github.com/spider-backstage/spider/demo/internal/serve"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "checkout")
	if err := run(log); err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	r := &env.Reader{Lookup: env.OS}
	port := r.Port("PORT", 8080)
	paymentsURL := r.String("PAYMENTS_URL", "http://payments:8080")
	paymentsGRPC := r.String("PAYMENTS_GRPC", "payments:9090")
	rate := r.Float("LOAD_RATE", 2, 0, 100)
	timeout := r.Duration("PAYMENTS_TIMEOUT", 3*time.Second, 100*time.Millisecond, time.Minute)
	if r.Err != nil {
		return r.Err
	}
	if u, err := url.Parse(paymentsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("PAYMENTS_URL=%q: expected an http(s) base URL", paymentsURL)
	}

	// One pooled client: connections to payments stay open between calls (keep-alive).
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 60 * time.Second,
		DialContext: (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
	}}
	conn, err := grpc.NewClient(paymentsGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("PAYMENTS_GRPC=%q: %w", paymentsGRPC, err)
	}
	defer conn.Close()
	led := ledger.NewClient(conn)
	svc := checkout.New(checkout.Options{PaymentsURL: paymentsURL, HTTP: client, Ledger: timedLedger{led, timeout}, Log: log})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return err
	}
	if rate > 0 {
		load := &checkout.Load{
			Target: fmt.Sprintf("http://127.0.0.1:%d", port), Rate: rate, Orders: svc, Rand: rand.Float64, Log: log,
			HTTP: &http.Client{Timeout: 2 * timeout},
		}
		go load.Run(ctx)
		log.Info("load loop running", "ratePerSecond", rate)
	}
	if err := serve.HTTP(ctx, log, lis, accesslog.Handler(log, svc.Handler())); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// timedLedger bounds each gRPC call.
type timedLedger struct {
	c       *ledger.Client
	timeout time.Duration
}

func (t timedLedger) Record(ctx context.Context, in *ledger.RecordRequest) (*ledger.RecordResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.c.Record(ctx, in)
}
