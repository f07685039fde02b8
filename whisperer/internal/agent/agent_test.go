package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		name string
		in   Settings
		want Settings
	}{
		{name: "zero takes the defaults", in: Settings{}, want: Settings{BodyCapBytes: 0, RedactHeaders: []string{}, MaxExchangesPerSecond: 2000, MaxCPUCores: 0.5, FlushIntervalMs: 1000}},
		{name: "in range kept", in: Settings{BodyCapBytes: 1024, RedactHeaders: []string{"x"}, MaxExchangesPerSecond: 5, MaxCPUCores: 2, FlushIntervalMs: 50},
			want: Settings{BodyCapBytes: 1024, RedactHeaders: []string{"x"}, MaxExchangesPerSecond: 5, MaxCPUCores: 2, FlushIntervalMs: 50}},
		{name: "out of range replaced", in: Settings{BodyCapBytes: 2 << 20, MaxExchangesPerSecond: 2_000_000, MaxCPUCores: 100, FlushIntervalMs: 10},
			want: Settings{BodyCapBytes: 65536, RedactHeaders: []string{}, MaxExchangesPerSecond: 2000, MaxCPUCores: 0.5, FlushIntervalMs: 1000}},
	}
	for _, c := range cases {
		got := c.in.Normalize()
		if got.BodyCapBytes != c.want.BodyCapBytes || got.MaxExchangesPerSecond != c.want.MaxExchangesPerSecond ||
			got.MaxCPUCores != c.want.MaxCPUCores || got.FlushIntervalMs != c.want.FlushIntervalMs || len(got.RedactHeaders) != len(c.want.RedactHeaders) || got.RedactHeaders == nil {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestStatuses(t *testing.T) {
	cases := []struct {
		status int
		retry  string
		check  func(error) bool
	}{
		{410, "", func(err error) bool { return errors.Is(err, ErrGone) }},
		{503, "7", func(err error) bool { var r *RetryError; return errors.As(err, &r) && r.After == 7*time.Second }},
		{429, "", func(err error) bool { var r *RetryError; return errors.As(err, &r) && r.After == 0 }},
		{403, "", func(err error) bool { var r *RejectedError; return errors.As(err, &r) && r.Message == "forbidden: x" }},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.retry != "" {
				w.Header().Set("Retry-After", c.retry)
			}
			w.WriteHeader(c.status)
			w.Write([]byte(`{"error":"forbidden: x"}`))
		}))
		_, err := New(srv.URL, "spider-a", "").Config(context.Background())
		if !c.check(err) {
			t.Errorf("%d: %v", c.status, err)
		}
		srv.Close()
	}
	// Unreachable: a retry without Retry-After.
	_, err := New("http://127.0.0.1:1", "spider-a", "").Config(context.Background())
	var r *RetryError
	if !errors.As(err, &r) || r.After != 0 {
		t.Errorf("unreachable: %v", err)
	}
}

func TestStopAndConfig(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/whisperers/spider-a":
			w.Write([]byte(`{"attachmentId":"a1","container":"spider-a","pod":{"namespace":"n","name":"p"},"captureFilter":"tcp","expiresAt":"2026-11-26T08:00:00.000Z","stop":false,"stopReason":null,"capture":{"bodyCapBytes":10,"redactHeaders":["x"],"maxExchangesPerSecond":3,"maxCpuCores":1,"flushIntervalMs":100},"extra":1}`))
		case "/v1/whisperers/spider-a/stop":
			if r.URL.Query().Get("wait") != "30" {
				w.WriteHeader(400)
				return
			}
			w.Write([]byte(`{"stop":true,"reason":"expired"}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "spider-a", "")
	cfg, err := c.Config(context.Background())
	if err != nil || cfg.AttachmentID != "a1" || cfg.Pod.Name != "p" || cfg.Capture == nil || cfg.Capture.BodyCapBytes != 10 || cfg.ExpiresAt == nil {
		t.Fatalf("%+v %v", cfg, err)
	}
	stop, reason, err := c.WaitStop(context.Background(), 30*time.Second)
	if err != nil || !stop || reason != "expired" {
		t.Fatalf("%v %q %v", stop, reason, err)
	}
}

// Every call carries the instance secret (contract v1.2): the agent refuses one without.
func TestSecretOnEveryCall(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/v1/whisperers/spider-a":
			w.Write([]byte(`{"attachmentId":"a1","container":"spider-a","stop":false}`))
		case "/v1/whisperers/spider-a/stop":
			w.Write([]byte(`{"stop":false,"reason":null}`))
		case "/v1/whisperers/spider-a/state":
			w.WriteHeader(204)
		case "/v1/whisperers/spider-a/traffic":
			w.WriteHeader(202)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "spider-a", "k3y-Secret_1")
	ctx := context.Background()
	if _, err := c.Config(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.WaitStop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Report(ctx, State{State: "running"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Traffic(ctx, []byte(`{"exchanges":[],"flows":[]}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /v1/whisperers/spider-a Bearer k3y-Secret_1",
		"GET /v1/whisperers/spider-a/stop Bearer k3y-Secret_1",
		"POST /v1/whisperers/spider-a/state Bearer k3y-Secret_1",
		"POST /v1/whisperers/spider-a/traffic Bearer k3y-Secret_1",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s", strings.Join(seen, "\n"))
	}
	// Without a secret (an agent before v1.2) no Authorization header is sent at all.
	seen = nil
	if _, err := New(srv.URL, "spider-a", "").Config(ctx); err != nil {
		t.Fatal(err)
	}
	if seen[0] != "GET /v1/whisperers/spider-a " {
		t.Fatalf("call without a secret: %q", seen[0])
	}
}
