package checkout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Action is one kind of request the load loop sends.
type Action int

const (
	// Buy is a valid checkout.
	Buy Action = iota
	// BuyDeclined is a checkout whose total payments declines (402).
	BuyDeclined
	// BuyInvalid is a checkout checkout itself rejects (400).
	BuyInvalid
	// LookUp reads a recent order (checkout → payments GET).
	LookUp
	// LookUpMissing reads an order that does not exist (404).
	LookUpMissing
)

// Pick maps a uniform draw to an action: mostly purchases, some declines and bad carts,
// and order look-ups, so traffic has successes, 4xx and two kinds of call to payments.
func Pick(draw float64) Action {
	switch {
	case draw < 0.70:
		return Buy
	case draw < 0.75:
		return BuyDeclined
	case draw < 0.80:
		return BuyInvalid
	case draw < 0.97:
		return LookUp
	default:
		return LookUpMissing
	}
}

var (
	customers = []string{"ada", "grace", "linus", "margaret", "ken", "barbara"}
	skus      = []string{"MUG-01", "TSHIRT-M", "STICKER-8", "HOODIE-L", "BOOK-K8S", "CABLE-C"}
)

// Cart builds the cart for an action from draws in [0, 1).
func Cart(a Action, draw func() float64) Request {
	req := Request{Customer: customers[int(draw()*float64(len(customers)))], Currency: "EUR"}
	n := 1 + int(draw()*3)
	for i := 0; i < n; i++ {
		req.Items = append(req.Items, Item{SKU: skus[int(draw()*float64(len(skus)))], Quantity: 1 + int64(draw()*3), UnitPrice: 199 + int64(draw()*5000)})
	}
	var total int64
	for _, it := range req.Items {
		total += it.Quantity * it.UnitPrice
	}
	switch a {
	case BuyDeclined:
		// One more line that makes the total end in 13, which payments declines.
		req.Items = append(req.Items, Item{SKU: "GIFT-WRAP", Quantity: 1, UnitPrice: 100 + (113-total%100)%100})
	case BuyInvalid:
		req.Items[0].Quantity = 0
	case Buy:
		if total%100 == 13 {
			req.Items[0].UnitPrice++
		}
	}
	return req
}

// Load sends a steady trickle of requests to the checkout API, so a demo cluster always
// has live traffic.
type Load struct {
	// Target is the checkout base URL (its own listener).
	Target string
	// Rate is requests per second.
	Rate   float64
	HTTP   *http.Client
	Orders *Service
	Rand   func() float64
	Log    *slog.Logger
}

// Run sends requests until ctx ends.
func (l *Load) Run(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / l.Rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			status, err := l.Once(ctx)
			if err != nil && ctx.Err() == nil {
				l.Log.Warn("load request failed", "err", err)
			} else if status >= 500 {
				l.Log.Info("load request answered", "status", status)
			}
		}
	}
}

// Once sends one request and returns its status.
func (l *Load) Once(ctx context.Context) (int, error) {
	a := Pick(l.Rand())
	var req *http.Request
	var err error
	switch a {
	case LookUp, LookUpMissing:
		id := l.Orders.RecentOrder(l.Rand())
		if a == LookUpMissing || id == "" {
			id = fmt.Sprintf("o_missing%04d", int(l.Rand()*10000))
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, l.Target+"/v1/orders/"+id, nil)
	default:
		body, _ := json.Marshal(Cart(a, l.Rand))
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, l.Target+"/v1/checkout", bytes.NewReader(body))
		if req != nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return 0, err
	}
	res, err := l.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxPaymentsResponse))
	res.Body.Close()
	return res.StatusCode, nil
}
