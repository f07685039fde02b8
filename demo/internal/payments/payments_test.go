package payments

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/spider-backstage/spider/demo/internal/faults"
	"github.com/spider-backstage/spider/demo/internal/ledger"
)

func do(t *testing.T, h http.Handler, method, path, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if w.Header().Get("Content-Encoding") == "" {
		_ = json.Unmarshal(w.Body.Bytes(), &out)
	}
	return w, out
}

func TestCharges(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h := New(Options{Now: func() time.Time { return now }}).Handler()

	w, out := do(t, h, "POST", "/v1/charges", `{"amount":1250,"currency":"EUR","customer":"ada"}`)
	if w.Code != http.StatusCreated || out["id"] != "ch_0000000001" || out["status"] != "succeeded" || out["createdAt"] != "2026-12-01T12:00:00Z" {
		t.Fatalf("create: %d %v", w.Code, out)
	}
	if w.Header().Get("Location") != "/v1/charges/ch_0000000001" {
		t.Fatalf("location %q", w.Header().Get("Location"))
	}
	w, out = do(t, h, "GET", "/v1/charges/ch_0000000001", "")
	if w.Code != http.StatusOK || out["amount"] != 1250.0 || out["customer"] != "ada" {
		t.Fatalf("get: %d %v", w.Code, out)
	}
	w, out = do(t, h, "GET", "/v1/charges/ch_nope", "")
	if w.Code != http.StatusNotFound || out["error"] != "not_found" {
		t.Fatalf("missing: %d %v", w.Code, out)
	}
	w, out = do(t, h, "POST", "/v1/charges", `{"amount":1213,"currency":"EUR","customer":"ada"}`)
	if w.Code != http.StatusPaymentRequired || out["error"] != "card_declined" {
		t.Fatalf("decline: %d %v", w.Code, out)
	}
	w, _ = do(t, h, "GET", "/healthz", "")
	if w.Code != http.StatusOK {
		t.Fatalf("healthz %d", w.Code)
	}
}

func TestChargeValidation(t *testing.T) {
	h := New(Options{}).Handler()
	for _, body := range []string{
		`{"amount":0,"currency":"EUR","customer":"ada"}`,
		`{"amount":10000001,"currency":"EUR","customer":"ada"}`,
		`{"amount":100,"currency":"XXX","customer":"ada"}`,
		`{"amount":100,"currency":"EUR","customer":"Ada!"}`,
		`{"amount":100,"currency":"EUR","customer":"ada","card":"4242"}`,
		`{"amount":"100"}`,
		`not json`,
	} {
		w, out := do(t, h, "POST", "/v1/charges", body)
		if w.Code != http.StatusBadRequest || out["error"] != "invalid_request" || out["message"] == "" {
			t.Errorf("%s: %d %v", body, w.Code, out)
		}
	}
	if w, _ := do(t, h, "GET", "/v1/charges?limit=500", ""); w.Code != http.StatusBadRequest {
		t.Errorf("limit 500: %d", w.Code)
	}
}

func TestListNewestFirstAndGzipped(t *testing.T) {
	s := New(Options{})
	h := s.Handler()
	for i := 0; i < 30; i++ {
		cust := "ada"
		if i%2 == 1 {
			cust = "bob"
		}
		do(t, h, "POST", "/v1/charges", `{"amount":100,"currency":"USD","customer":"`+cust+`"}`)
	}
	r := httptest.NewRequest("GET", "/v1/charges?customer=bob&limit=5", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out struct{ Charges []Charge }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Charges) != 5 || out.Charges[0].ID != "ch_0000000030" || out.Charges[4].ID != "ch_0000000022" {
		t.Fatalf("list: %+v", out.Charges)
	}
	r = httptest.NewRequest("GET", "/v1/charges?limit=30", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("a 30-charge list was not gzipped")
	}
}

func TestStoreForgetsOldestBeyondCap(t *testing.T) {
	s := New(Options{})
	for i := 0; i < MaxCharges+5; i++ {
		s.store(ChargeRequest{Amount: 1, Currency: "EUR", Customer: "ada"})
	}
	if len(s.charges) != MaxCharges {
		t.Fatalf("%d charges kept", len(s.charges))
	}
	if _, ok := s.charges["ch_0000000005"]; ok {
		t.Fatal("oldest charge kept")
	}
	if _, ok := s.charges["ch_0000000006"]; !ok {
		t.Fatal("sixth charge dropped")
	}
	w, _ := do(t, s.Handler(), "GET", "/v1/charges?limit=1", "")
	if !strings.Contains(w.Body.String(), `"ch_0000010005"`) {
		t.Fatalf("newest not first: %s", w.Body.String())
	}
}

func TestFaults(t *testing.T) {
	var slept time.Duration
	s := New(Options{
		Faults: faults.Rates{Error: 1, Slow: 1, SlowMin: 400 * time.Millisecond, SlowMax: 400 * time.Millisecond},
		Rand:   func() float64 { return 0 },
		Sleep:  func(_ context.Context, d time.Duration) error { slept += d; return nil },
	})
	w, out := do(t, s.Handler(), "POST", "/v1/charges", `{"amount":100,"currency":"EUR","customer":"ada"}`)
	if w.Code != http.StatusServiceUnavailable || out["error"] != "unavailable" || w.Header().Get("Retry-After") != "1" || slept != 400*time.Millisecond {
		t.Fatalf("fault: %d %v slept %v", w.Code, out, slept)
	}
	// Health checks never fail.
	if w, _ := do(t, s.Handler(), "GET", "/healthz", ""); w.Code != http.StatusOK {
		t.Fatalf("healthz %d", w.Code)
	}
	if _, err := s.Record(context.Background(), &ledger.RecordRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("ledger fault: %v", err)
	}
}

// The ledger over a real gRPC connection, with the JSON codec on both ends.
func TestLedgerOverGRPC(t *testing.T) {
	s := New(Options{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&ledger.ServiceDesc, s)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := ledger.NewClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c := s.store(ChargeRequest{Amount: 700, Currency: "GBP", Customer: "ada"})
	for want := int64(700); want <= 1400; want += 700 {
		// The second call books the same charge again: a second entry, balance doubles.
		res, err := client.Record(ctx, &ledger.RecordRequest{ChargeID: c.ID, Customer: "ada", Amount: 700, Currency: "GBP"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Balance != want || !strings.HasPrefix(res.EntryID, "le_") {
			t.Fatalf("record: %+v", res)
		}
	}
	cases := map[codes.Code]*ledger.RecordRequest{
		codes.InvalidArgument:    {ChargeID: c.ID},
		codes.NotFound:           {ChargeID: "ch_x", Customer: "ada", Amount: 700, Currency: "GBP"},
		codes.FailedPrecondition: {ChargeID: c.ID, Customer: "ada", Amount: 701, Currency: "GBP"},
	}
	for want, req := range cases {
		if _, err := client.Record(ctx, req); status.Code(err) != want {
			t.Errorf("%+v: %v, want %v", req, err, want)
		}
	}
}
