// Package checkout is the demo checkout service: it prices a cart, charges it through
// payments over HTTP/1.1 (keep-alive), books the charge in the payments ledger over gRPC,
// and keeps recent orders in memory (bounded).
package checkout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/spider-backstage/spider/demo/internal/httpjson"
	"github.com/spider-backstage/spider/demo/internal/ledger"
)

// MaxOrders bounds the in-memory orders.
const MaxOrders = 10_000

// maxPaymentsResponse caps what is read from payments.
const maxPaymentsResponse = 64 << 10

var (
	skuRe      = regexp.MustCompile(`^[A-Z0-9-]{1,32}$`)
	customerRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	currencies = map[string]bool{"EUR": true, "USD": true, "GBP": true}
)

// Item is one cart line.
type Item struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unitPrice"`
}

// Request is the body of POST /v1/checkout.
type Request struct {
	Customer string `json:"customer"`
	Currency string `json:"currency"`
	Items    []Item `json:"items"`
}

// Total validates the cart and returns its total in minor units, or a client message.
func (r Request) Total() (int64, string) {
	if !customerRe.MatchString(r.Customer) {
		return 0, "customer must be 1-64 characters of a-z, 0-9, _ and -"
	}
	if !currencies[r.Currency] {
		return 0, "currency must be one of EUR, USD, GBP"
	}
	if len(r.Items) < 1 || len(r.Items) > 20 {
		return 0, "a cart has 1 to 20 items"
	}
	var total int64
	for i, it := range r.Items {
		if !skuRe.MatchString(it.SKU) || it.Quantity < 1 || it.Quantity > 99 || it.UnitPrice < 1 || it.UnitPrice > 100_000 {
			return 0, fmt.Sprintf("items[%d]: sku A-Z0-9- (1-32), quantity 1..99, unitPrice 1..100000", i)
		}
		total += it.Quantity * it.UnitPrice
	}
	return total, ""
}

// Order is a completed checkout.
type Order struct {
	ID       string    `json:"id"`
	ChargeID string    `json:"chargeId"`
	Customer string    `json:"customer"`
	Total    int64     `json:"total"`
	Currency string    `json:"currency"`
	Ledger   LedgerRef `json:"ledger"`
	Created  time.Time `json:"createdAt"`
}

// LedgerRef is the outcome of booking the charge.
type LedgerRef struct {
	Status  string `json:"status"` // recorded | failed
	EntryID string `json:"entryId,omitempty"`
	Balance int64  `json:"balance,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Recorder books charges (the ledger gRPC client).
type Recorder interface {
	Record(context.Context, *ledger.RecordRequest) (*ledger.RecordResponse, error)
}

// Options are the service's dependencies.
type Options struct {
	// PaymentsURL is the payments HTTP base URL, e.g. http://payments:8080.
	PaymentsURL string
	HTTP        *http.Client
	Ledger      Recorder
	Log         *slog.Logger
	Now         func() time.Time
}

// Service is the checkout API.
type Service struct {
	opts   Options
	mu     sync.Mutex
	seq    uint64
	orders map[string]Order
	order  []string
	next   int
}

// New makes a service.
func New(opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{opts: opts, orders: map[string]Order{}}
}

// Handler serves the HTTP API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /v1/checkout", s.checkout)
	mux.HandleFunc("GET /v1/orders/{id}", s.getOrder)
	return mux
}

// paymentsError is a failed call to payments, mapped to the status checkout answers.
type paymentsError struct {
	status int
	code   string
	msg    string
}

func (e *paymentsError) Error() string { return e.msg }

func (s *Service) checkout(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := httpjson.Decode(w, r, &req); err != nil {
		httpjson.WriteError(w, r, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	total, msg := req.Total()
	if msg != "" {
		httpjson.WriteError(w, r, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	chargeID, err := s.charge(r.Context(), req, total)
	if err != nil {
		var pe *paymentsError
		if errors.As(err, &pe) {
			httpjson.WriteError(w, r, pe.status, pe.code, pe.msg)
			return
		}
		s.opts.Log.Warn("payments call failed", "err", err)
		httpjson.WriteError(w, r, http.StatusBadGateway, "payments_unavailable", "payments did not answer")
		return
	}
	o := Order{ChargeID: chargeID, Customer: req.Customer, Total: total, Currency: req.Currency, Created: s.opts.Now().UTC()}
	res, err := s.opts.Ledger.Record(r.Context(), &ledger.RecordRequest{ChargeID: chargeID, Customer: req.Customer, Amount: total, Currency: req.Currency})
	if err != nil {
		// The charge stands; the ledger entry is retried by a real system, reported here.
		o.Ledger = LedgerRef{Status: "failed", Error: err.Error()}
	} else {
		o.Ledger = LedgerRef{Status: "recorded", EntryID: res.EntryID, Balance: res.Balance}
	}
	o = s.save(o)
	w.Header().Set("Location", "/v1/orders/"+o.ID)
	httpjson.Write(w, r, http.StatusCreated, o)
}

// charge creates the payments charge, retrying once on 503 (payments asks for it).
func (s *Service) charge(ctx context.Context, req Request, total int64) (string, error) {
	body, _ := json.Marshal(map[string]any{"amount": total, "currency": req.Currency, "customer": req.Customer, "description": "checkout"})
	for attempt := 0; ; attempt++ {
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.PaymentsURL+"/v1/charges", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		hreq.Header.Set("Content-Type", "application/json")
		res, err := s.opts.HTTP.Do(hreq)
		if err != nil {
			return "", err
		}
		var out struct {
			ID      string `json:"id"`
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		err = httpjson.ReadResponse(res.Body, maxPaymentsResponse, &out)
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusServiceUnavailable && attempt == 0:
			continue
		case res.StatusCode == http.StatusCreated && err == nil && out.ID != "":
			return out.ID, nil
		case res.StatusCode == http.StatusPaymentRequired:
			return "", &paymentsError{http.StatusPaymentRequired, "payment_declined", "payments declined the charge: " + out.Message}
		default:
			return "", &paymentsError{http.StatusBadGateway, "payments_failed", "payments answered " + strconv.Itoa(res.StatusCode)}
		}
	}
}

func (s *Service) save(o Order) Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	o.ID = fmt.Sprintf("o_%010d", s.seq)
	if len(s.order) < MaxOrders {
		s.order = append(s.order, o.ID)
	} else {
		delete(s.orders, s.order[s.next])
		s.order[s.next] = o.ID
		s.next = (s.next + 1) % MaxOrders
	}
	s.orders[o.ID] = o
	return o
}

// getOrder returns the order with its charge as payments has it now.
func (s *Service) getOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		httpjson.WriteError(w, r, http.StatusNotFound, "not_found", "no order "+strconv.Quote(r.PathValue("id")))
		return
	}
	hreq, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.opts.PaymentsURL+"/v1/charges/"+o.ChargeID, nil)
	if err != nil {
		httpjson.WriteError(w, r, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	res, err := s.opts.HTTP.Do(hreq)
	if err != nil {
		httpjson.WriteError(w, r, http.StatusBadGateway, "payments_unavailable", "payments did not answer")
		return
	}
	defer res.Body.Close()
	var charge json.RawMessage
	switch res.StatusCode {
	case http.StatusOK:
		if err := httpjson.ReadResponse(res.Body, maxPaymentsResponse, &charge); err != nil {
			httpjson.WriteError(w, r, http.StatusBadGateway, "payments_failed", err.Error())
			return
		}
	case http.StatusNotFound:
		charge = json.RawMessage("null") // forgotten by payments' bounded store
	default:
		httpjson.WriteError(w, r, http.StatusBadGateway, "payments_failed", "payments answered "+strconv.Itoa(res.StatusCode))
		return
	}
	httpjson.Write(w, r, http.StatusOK, map[string]any{"order": o, "charge": charge})
}

// RecentOrder returns one of the newest orders' ids (for the load loop), or "".
func (s *Service) RecentOrder(pick float64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.order)
	if n == 0 {
		return ""
	}
	window := min(n, 50)
	i := int(pick * float64(window))
	return s.order[((s.next-1-i)%n+n)%n]
}
