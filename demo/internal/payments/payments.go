// Package payments is the demo payments service: charges over HTTP/1.1 and a ledger over
// gRPC, kept in memory (bounded), with injected errors and slow calls so captured traffic
// has something to show.
package payments

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/spider-backstage/spider/demo/internal/faults"
	"github.com/spider-backstage/spider/demo/internal/httpjson"
	"github.com/spider-backstage/spider/demo/internal/ledger"
)

// MaxCharges bounds the in-memory store; the oldest charges are forgotten first.
const MaxCharges = 10_000

// MaxAmount is the largest charge, in minor units.
const MaxAmount = 10_000_000

// DeclinedSuffix: an amount whose last two digits are 13 is declined (a 402 on demand).
const DeclinedSuffix = 13

var (
	currencies = map[string]bool{"EUR": true, "USD": true, "GBP": true}
	customerRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// Charge is one successful charge.
type Charge struct {
	ID        string    `json:"id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Customer  string    `json:"customer"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// ChargeRequest is the body of POST /v1/charges.
type ChargeRequest struct {
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Customer    string `json:"customer"`
	Description string `json:"description,omitempty"`
}

// Validate returns a client-facing message for the first invalid field.
func (c ChargeRequest) Validate() string {
	switch {
	case c.Amount < 1 || c.Amount > MaxAmount:
		return fmt.Sprintf("amount must be 1..%d (minor units)", MaxAmount)
	case !currencies[c.Currency]:
		return "currency must be one of EUR, USD, GBP"
	case !customerRe.MatchString(c.Customer):
		return "customer must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit"
	case len(c.Description) > 200:
		return "description must be at most 200 characters"
	}
	return ""
}

// Options are the service's dependencies; zero fields get real defaults.
type Options struct {
	Faults faults.Rates
	// Rand returns a uniform draw in [0, 1).
	Rand  func() float64
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	Log   *slog.Logger
}

// Service holds the charges and the ledger.
type Service struct {
	opts     Options
	mu       sync.Mutex
	seq      uint64
	charges  map[string]Charge
	order    []string // ring of charge ids, oldest at next
	next     int
	balances map[string]int64
}

// New makes a service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Service{opts: opts, charges: map[string]Charge{}, balances: map[string]int64{}}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// decide draws a fault decision and applies its delay; it returns whether to fail.
func (s *Service) decide(ctx context.Context) (bool, error) {
	if s.opts.Rand == nil {
		return false, nil
	}
	d := s.opts.Faults.Decide(s.opts.Rand(), s.opts.Rand())
	if d.Delay > 0 {
		if err := s.opts.Sleep(ctx, d.Delay); err != nil {
			return false, err
		}
	}
	return d.Fail, nil
}

// Handler serves the HTTP API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("POST /v1/charges", s.faulty(s.createCharge))
	mux.Handle("GET /v1/charges/{id}", s.faulty(s.getCharge))
	mux.Handle("GET /v1/charges", s.faulty(s.listCharges))
	return mux
}

func (s *Service) faulty(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail, err := s.decide(r.Context())
		if err != nil {
			return // the client went away during the delay
		}
		if fail {
			w.Header().Set("Retry-After", "1")
			httpjson.WriteError(w, r, http.StatusServiceUnavailable, "unavailable", "payments is briefly unavailable, retry")
			return
		}
		h(w, r)
	})
}

func (s *Service) createCharge(w http.ResponseWriter, r *http.Request) {
	var req ChargeRequest
	if err := httpjson.Decode(w, r, &req); err != nil {
		httpjson.WriteError(w, r, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if msg := req.Validate(); msg != "" {
		httpjson.WriteError(w, r, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	if req.Amount%100 == DeclinedSuffix {
		httpjson.WriteError(w, r, http.StatusPaymentRequired, "card_declined", "the card was declined")
		return
	}
	c := s.store(req)
	w.Header().Set("Location", "/v1/charges/"+c.ID)
	httpjson.Write(w, r, http.StatusCreated, c)
}

func (s *Service) store(req ChargeRequest) Charge {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	c := Charge{
		ID:     fmt.Sprintf("ch_%010d", s.seq),
		Amount: req.Amount, Currency: req.Currency, Customer: req.Customer,
		Status: "succeeded", CreatedAt: s.opts.Now().UTC(),
	}
	if len(s.order) < MaxCharges {
		s.order = append(s.order, c.ID)
	} else {
		delete(s.charges, s.order[s.next])
		s.order[s.next] = c.ID
		s.next = (s.next + 1) % MaxCharges
	}
	s.charges[c.ID] = c
	return c
}

func (s *Service) getCharge(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	c, ok := s.charges[id]
	s.mu.Unlock()
	if !ok {
		httpjson.WriteError(w, r, http.StatusNotFound, "not_found", "no charge "+strconv.Quote(id))
		return
	}
	httpjson.Write(w, r, http.StatusOK, c)
}

// listCharges returns the newest charges, optionally of one customer; large lists are
// gzipped when the client accepts it.
func (s *Service) listCharges(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			httpjson.WriteError(w, r, http.StatusBadRequest, "invalid_request", "limit must be 1..100")
			return
		}
		limit = n
	}
	customer := r.URL.Query().Get("customer")
	out := []Charge{}
	s.mu.Lock()
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		c := s.charges[s.order[(s.next+i)%len(s.order)]]
		if customer == "" || c.Customer == customer {
			out = append(out, c)
		}
	}
	s.mu.Unlock()
	httpjson.Write(w, r, http.StatusOK, map[string]any{"charges": out})
}

// Record books a charge in the ledger (payments.Ledger/Record).
func (s *Service) Record(ctx context.Context, req *ledger.RecordRequest) (*ledger.RecordResponse, error) {
	fail, err := s.decide(ctx)
	if err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if fail {
		return nil, status.Error(codes.Unavailable, "ledger is briefly unavailable")
	}
	if req.ChargeID == "" || req.Amount < 1 || !currencies[req.Currency] {
		return nil, status.Error(codes.InvalidArgument, "chargeId, a positive amount and a known currency are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.charges[req.ChargeID]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no charge %q", req.ChargeID)
	}
	if c.Amount != req.Amount || c.Currency != req.Currency || c.Customer != req.Customer {
		return nil, status.Errorf(codes.FailedPrecondition, "entry does not match charge %q", req.ChargeID)
	}
	if _, known := s.balances[c.Customer]; !known && len(s.balances) >= MaxCharges {
		return nil, status.Error(codes.ResourceExhausted, "too many customers in the ledger")
	}
	s.seq++
	s.balances[c.Customer] += c.Amount
	return &ledger.RecordResponse{EntryID: fmt.Sprintf("le_%010d", s.seq), Balance: s.balances[c.Customer]}, nil
}
