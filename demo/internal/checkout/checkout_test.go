package checkout

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/spider-backstage/spider/demo/internal/ledger"
	"github.com/spider-backstage/spider/demo/internal/payments"
)

// stack is checkout in front of a real payments service (HTTP and gRPC on loopback).
type stack struct {
	checkout *Service
	handler  http.Handler
	calls    atomic.Int64
	fail503  atomic.Int64 // payments answers 503 to this many calls first
}

func newStack(t *testing.T) *stack {
	t.Helper()
	st := &stack{}
	pay := payments.New(payments.Options{})
	ph := pay.Handler()
	httpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.calls.Add(1)
		if st.fail503.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"unavailable"}`))
			return
		}
		ph.ServeHTTP(w, r)
	}))
	t.Cleanup(httpSrv.Close)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcSrv := grpc.NewServer()
	grpcSrv.RegisterService(&ledger.ServiceDesc, pay)
	go func() { _ = grpcSrv.Serve(lis) }()
	t.Cleanup(grpcSrv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	st.checkout = New(Options{PaymentsURL: httpSrv.URL, HTTP: &http.Client{Timeout: 5 * time.Second}, Ledger: ledger.NewClient(conn)})
	st.handler = st.checkout.Handler()
	return st
}

func (st *stack) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	st.handler.ServeHTTP(w, r)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

const cart = `{"customer":"ada","currency":"EUR","items":[{"sku":"MUG-01","quantity":2,"unitPrice":1200},{"sku":"BOOK-K8S","quantity":1,"unitPrice":3100}]}`

func TestCheckoutChargesAndBooks(t *testing.T) {
	st := newStack(t)
	code, out := st.do(t, "POST", "/v1/checkout", cart)
	if code != http.StatusCreated || out["total"] != 5500.0 || out["chargeId"] != "ch_0000000001" {
		t.Fatalf("checkout: %d %v", code, out)
	}
	led := out["ledger"].(map[string]any)
	if led["status"] != "recorded" || led["balance"] != 5500.0 {
		t.Fatalf("ledger: %v", led)
	}
	code, got := st.do(t, "GET", "/v1/orders/"+out["id"].(string), "")
	charge, _ := got["charge"].(map[string]any)
	if code != http.StatusOK || charge["id"] != "ch_0000000001" || charge["amount"] != 5500.0 {
		t.Fatalf("order: %d %v", code, got)
	}
	if code, _ := st.do(t, "GET", "/v1/orders/o_nope", ""); code != http.StatusNotFound {
		t.Fatalf("missing order: %d", code)
	}
}

func TestCheckoutErrors(t *testing.T) {
	st := newStack(t)
	if code, out := st.do(t, "POST", "/v1/checkout", `{"customer":"ada","currency":"EUR","items":[]}`); code != http.StatusBadRequest || out["error"] != "invalid_request" {
		t.Fatalf("empty cart: %d %v", code, out)
	}
	if st.calls.Load() != 0 {
		t.Fatal("an invalid cart reached payments")
	}
	declined := `{"customer":"ada","currency":"EUR","items":[{"sku":"MUG-01","quantity":1,"unitPrice":1013}]}`
	if code, out := st.do(t, "POST", "/v1/checkout", declined); code != http.StatusPaymentRequired || out["error"] != "payment_declined" {
		t.Fatalf("declined: %d %v", code, out)
	}
	st.fail503.Store(1)
	if code, _ := st.do(t, "POST", "/v1/checkout", cart); code != http.StatusCreated {
		t.Fatalf("one 503 was not retried: %d", code)
	}
	st.fail503.Store(2)
	if code, out := st.do(t, "POST", "/v1/checkout", cart); code != http.StatusBadGateway || out["error"] != "payments_failed" {
		t.Fatalf("two 503s: %d %v", code, out)
	}
}

func TestCheckoutPaymentsDown(t *testing.T) {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := lis.Addr().String()
	lis.Close()
	s := New(Options{PaymentsURL: "http://" + addr, HTTP: &http.Client{Timeout: time.Second}})
	r := httptest.NewRequest("POST", "/v1/checkout", strings.NewReader(cart))
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "payments_unavailable") {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
}

type failingLedger struct{}

func (failingLedger) Record(context.Context, *ledger.RecordRequest) (*ledger.RecordResponse, error) {
	return nil, context.DeadlineExceeded
}

func TestCheckoutKeepsTheChargeWhenTheLedgerFails(t *testing.T) {
	st := newStack(t)
	st.checkout.opts.Ledger = failingLedger{}
	code, out := st.do(t, "POST", "/v1/checkout", cart)
	if code != http.StatusCreated || out["ledger"].(map[string]any)["status"] != "failed" {
		t.Fatalf("%d %v", code, out)
	}
}

func TestPick(t *testing.T) {
	cases := map[float64]Action{0: Buy, 0.69: Buy, 0.7: BuyDeclined, 0.76: BuyInvalid, 0.8: LookUp, 0.98: LookUpMissing}
	for draw, want := range cases {
		if got := Pick(draw); got != want {
			t.Errorf("Pick(%v) = %v, want %v", draw, got, want)
		}
	}
}

func TestCartShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		for _, a := range []Action{Buy, BuyDeclined, BuyInvalid} {
			total, msg := Cart(a, r.Float64).Total()
			switch {
			case a == BuyInvalid && msg == "":
				t.Fatal("an invalid cart validated")
			case a != BuyInvalid && msg != "":
				t.Fatalf("%v cart invalid: %s", a, msg)
			case a == BuyDeclined && total%100 != payments.DeclinedSuffix:
				t.Fatalf("declined cart total %d", total)
			case a == Buy && total%100 == payments.DeclinedSuffix:
				t.Fatalf("a buy would be declined: %d", total)
			}
		}
	}
}

// The load loop's requests through the whole stack, over a real listener.
func TestLoadOnce(t *testing.T) {
	st := newStack(t)
	srv := httptest.NewServer(st.handler)
	defer srv.Close()
	r := rand.New(rand.NewPCG(3, 4))
	l := &Load{Target: srv.URL, Rate: 1, HTTP: srv.Client(), Orders: st.checkout, Rand: r.Float64}
	seen := map[int]int{}
	for i := 0; i < 200; i++ {
		code, err := l.Once(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen[code]++
	}
	for _, code := range []int{http.StatusCreated, http.StatusOK, http.StatusBadRequest, http.StatusPaymentRequired, http.StatusNotFound} {
		if seen[code] == 0 {
			t.Errorf("no %d in 200 requests: %v", code, seen)
		}
	}
}
