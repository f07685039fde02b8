// Package faults decides which demo requests fail or are slow, so the traffic a whisperer
// captures has errors and latency worth looking at. The decision is a pure function of
// the rates and two random draws; the caller supplies the randomness.
package faults

import (
	"fmt"
	"time"
)

// Rates are probabilities in [0, 1] and the range of an injected delay.
type Rates struct {
	Error   float64
	Slow    float64
	SlowMin time.Duration
	SlowMax time.Duration
}

// Defaults: about 5% errors and 5% calls slower than 300 ms.
var Defaults = Rates{Error: 0.05, Slow: 0.05, SlowMin: 300 * time.Millisecond, SlowMax: 900 * time.Millisecond}

// Validate reports a rate outside [0, 1] or an inverted delay range.
func (r Rates) Validate() error {
	if r.Error < 0 || r.Error > 1 {
		return fmt.Errorf("error rate %v is not within [0, 1]", r.Error)
	}
	if r.Slow < 0 || r.Slow > 1 {
		return fmt.Errorf("slow rate %v is not within [0, 1]", r.Slow)
	}
	if r.SlowMin < 0 || r.SlowMax < r.SlowMin {
		return fmt.Errorf("slow delay range %v..%v is invalid", r.SlowMin, r.SlowMax)
	}
	return nil
}

// Decision is what to do to one request.
type Decision struct {
	Fail  bool
	Delay time.Duration
}

// Decide turns two uniform draws in [0, 1) into a decision: the first picks failure, the
// second both slowness and, scaled, the delay within the range.
func (r Rates) Decide(failDraw, slowDraw float64) Decision {
	d := Decision{Fail: failDraw < r.Error}
	if slowDraw < r.Slow && r.Slow > 0 {
		frac := slowDraw / r.Slow
		d.Delay = r.SlowMin + time.Duration(frac*float64(r.SlowMax-r.SlowMin))
	}
	return d
}
