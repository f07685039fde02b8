package faults

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	r := Rates{Error: 0.1, Slow: 0.2, SlowMin: 300 * time.Millisecond, SlowMax: 700 * time.Millisecond}
	cases := []struct {
		fail, slow float64
		want       Decision
	}{
		{0.5, 0.5, Decision{}},
		{0.05, 0.5, Decision{Fail: true}},
		{0.1, 0.2, Decision{}}, // bounds are exclusive
		{0.5, 0, Decision{Delay: 300 * time.Millisecond}},
		{0.5, 0.1, Decision{Delay: 500 * time.Millisecond}},
		{0.0, 0.19999, Decision{Fail: true, Delay: 699998 * time.Microsecond}},
	}
	for _, c := range cases {
		got := r.Decide(c.fail, c.slow)
		if got.Fail != c.want.Fail || (got.Delay-c.want.Delay).Abs() > time.Millisecond {
			t.Errorf("Decide(%v, %v) = %+v, want %+v", c.fail, c.slow, got, c.want)
		}
	}
	if d := (Rates{}).Decide(0, 0); d.Fail || d.Delay != 0 {
		t.Errorf("zero rates injected %+v", d)
	}
}

func TestValidate(t *testing.T) {
	if err := Defaults.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Rates{{Error: -0.1}, {Error: 1.5}, {Slow: 2}, {SlowMin: time.Second, SlowMax: time.Millisecond}, {SlowMin: -1}}
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}
