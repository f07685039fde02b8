package ship

import "time"

// Limiter is a token bucket: rate exchanges per second, a burst of one second's worth.
// Not safe for concurrent use (the capture goroutine owns it).
type Limiter struct {
	rate   float64
	tokens float64
	last   time.Time
}

// NewLimiter allows rate per second.
func NewLimiter(rate int) *Limiter {
	return &Limiter{rate: float64(rate), tokens: float64(rate)}
}

// Allow takes a token at now; false means the exchange is sampled out.
func (l *Limiter) Allow(now time.Time) bool {
	if !l.last.IsZero() {
		if dt := now.Sub(l.last).Seconds(); dt > 0 {
			l.tokens = min(l.rate, l.tokens+dt*l.rate)
		}
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true
	}
	return false
}
