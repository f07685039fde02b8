// Package agent is the whisperer's side of controller-agent/docs/whisperer-contract.md
// (v1.1): the configuration, the stop long-poll, state reports and traffic batches.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// ErrGone: the agent has no attachment for this container any more (410). Exit.
var ErrGone = errors.New("the agent has no attachment for this container (410)")

// RetryError: the agent asks to come back later (429, 503), or could not be reached.
type RetryError struct {
	After  time.Duration // 0: back off by yourself
	Status int
	Err    error
}

func (e *RetryError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("agent answered %d (retry after %s)", e.Status, e.After)
}

// RejectedError: the agent refused a request as invalid (400, 403, 413, 415); retrying
// the same body will not help.
type RejectedError struct {
	Status  int
	Message string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("agent refused the request (%d): %s", e.Status, e.Message)
}

// Settings are the contract's `capture` settings.
type Settings struct {
	BodyCapBytes          int      `json:"bodyCapBytes"`
	RedactHeaders         []string `json:"redactHeaders"`
	MaxExchangesPerSecond int      `json:"maxExchangesPerSecond"`
	MaxCPUCores           float64  `json:"maxCpuCores"`
	FlushIntervalMs       int      `json:"flushIntervalMs"`
}

// DefaultSettings are spider-common's DEFAULT_CAPTURE_SETTINGS, for an agent that sends none.
var DefaultSettings = Settings{BodyCapBytes: exchange.DefaultBodyCapBytes, RedactHeaders: []string{},
	MaxExchangesPerSecond: 2000, MaxCPUCores: 0.5, FlushIntervalMs: 1000}

// Normalize brings settings into the schema's ranges (a zero takes the default).
func (s Settings) Normalize() Settings {
	d := DefaultSettings
	if s.BodyCapBytes < 0 || s.BodyCapBytes > 1<<20 {
		s.BodyCapBytes = d.BodyCapBytes
	}
	if s.MaxExchangesPerSecond < 1 || s.MaxExchangesPerSecond > 1_000_000 {
		s.MaxExchangesPerSecond = d.MaxExchangesPerSecond
	}
	if !(s.MaxCPUCores >= 0.01 && s.MaxCPUCores <= 64) {
		s.MaxCPUCores = d.MaxCPUCores
	}
	if s.FlushIntervalMs < 50 || s.FlushIntervalMs > 60_000 {
		s.FlushIntervalMs = d.FlushIntervalMs
	}
	if s.RedactHeaders == nil {
		s.RedactHeaders = []string{}
	}
	return s
}

// Config is the answer of GET /v1/whisperers/{container}.
type Config struct {
	AttachmentID string `json:"attachmentId"`
	Container    string `json:"container"`
	Generation   int    `json:"generation"`
	Pod          struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"pod"`
	CaptureFilter string     `json:"captureFilter"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	Stop          bool       `json:"stop"`
	StopReason    *string    `json:"stopReason"`
	Capture       *Settings  `json:"capture"`
}

// State is the body of POST …/state.
type State struct {
	State    string          `json:"state"`
	Message  *string         `json:"message"`
	ExitCode *int            `json:"exitCode"`
	Stats    *exchange.Stats `json:"stats,omitempty"`
}

// Client talks to one agent for one container.
type Client struct {
	base      string
	container string
	secret    string
	http      *http.Client
}

// New returns a client. The transport never uses a proxy: the agent checks the TCP
// source address, which must be the pod's. secret is the instance secret the agent put
// in SPIDER_INSTANCE_SECRET; it goes with every request (an agent before contract v1.2
// sets none, and then none is sent).
func New(baseURL, container, secret string) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), container: container, secret: secret, http: &http.Client{Transport: tr}}
}

func (c *Client) url(suffix string) string {
	return c.base + "/v1/whisperers/" + c.container + suffix
}

func (c *Client) do(ctx context.Context, method, url string, body []byte, timeout time.Duration) (int, []byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	var sent chan struct{}
	if body != nil {
		// The transport may still read a request body after Do returns (an early error
		// response); callers reuse the buffer, so wait until it is closed.
		sent = make(chan struct{})
		rd = &closeNotifier{Reader: bytes.NewReader(body), closed: sent}
		defer func() {
			select {
			case <-sent:
			case <-time.After(5 * time.Second):
			}
		}()
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.secret != "" {
		req.Header.Set("Authorization", "Bearer "+c.secret)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, &RetryError{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, &RetryError{Err: err}
	}
	return resp.StatusCode, b, resp.Header, nil
}

type closeNotifier struct {
	*bytes.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *closeNotifier) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// classify turns a non-success status into the contract's meaning.
func classify(status int, body []byte, h http.Header) error {
	switch {
	case status == http.StatusGone:
		return ErrGone
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status >= 500:
		return &RetryError{Status: status, After: retryAfter(h)}
	default:
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return &RejectedError{Status: status, Message: e.Error}
	}
}

func retryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || s < 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, 5*time.Minute)
}

// Config fetches the configuration.
func (c *Client) Config(ctx context.Context) (*Config, error) {
	status, b, h, err := c.do(ctx, http.MethodGet, c.url(""), nil, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, classify(status, b, h)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &cfg, nil
}

// WaitStop long-polls …/stop for up to wait; it returns whether to stop and why.
func (c *Client) WaitStop(ctx context.Context, wait time.Duration) (bool, string, error) {
	url := c.url("/stop?wait=" + strconv.Itoa(int(wait/time.Second)))
	status, b, h, err := c.do(ctx, http.MethodGet, url, nil, wait+15*time.Second)
	if err != nil {
		return false, "", err
	}
	if status != http.StatusOK {
		return false, "", classify(status, b, h)
	}
	var r struct {
		Stop   bool    `json:"stop"`
		Reason *string `json:"reason"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return false, "", &RetryError{Err: fmt.Errorf("stop answer: %w", err)}
	}
	reason := ""
	if r.Reason != nil {
		reason = *r.Reason
	}
	return r.Stop, reason, nil
}

// MaxStateMessage is the contract's bound on a state message.
const MaxStateMessage = 1024

// Report posts a state report.
func (c *Client) Report(ctx context.Context, s State) error {
	if s.Message != nil && len(*s.Message) > MaxStateMessage {
		m := (*s.Message)[:MaxStateMessage-3] + "..."
		s.Message = &m
	}
	if s.Stats != nil {
		st := *s.Stats
		st.StartedAt = st.StartedAt.UTC().Truncate(time.Millisecond)
		s.Stats = &st
	}
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	status, b, h, err := c.do(ctx, http.MethodPost, c.url("/state"), body, 10*time.Second)
	if err != nil {
		return err
	}
	if status != http.StatusNoContent && status != http.StatusOK {
		return classify(status, b, h)
	}
	return nil
}

// Traffic posts one batch (already encoded, at most exchange.MaxBatchBytes).
func (c *Client) Traffic(ctx context.Context, batch []byte) error {
	status, b, h, err := c.do(ctx, http.MethodPost, c.url("/traffic"), batch, 20*time.Second)
	if err != nil {
		return err
	}
	if status != http.StatusAccepted && status != http.StatusOK {
		return classify(status, b, h)
	}
	return nil
}
