// Package cpubreak is the whisperer's CPU circuit breaker: an ephemeral container has no
// resource limits, so above its share of CPU the whisperer pauses capture rather than
// slow down the pod it watches.
package cpubreak

import (
	"syscall"
	"time"
)

// Breaker decides from CPU time samples; not safe for concurrent use.
type Breaker struct {
	max         float64 // cores
	pause       time.Duration
	lastCPU     time.Duration
	lastWall    time.Time
	over        int
	pausedUntil time.Time
	Breaks      int64
	LastCores   float64
}

// New pauses for pause whenever usage stays above maxCores for two samples in a row.
func New(maxCores float64, pause time.Duration) *Breaker {
	return &Breaker{max: maxCores, pause: pause}
}

// Observe takes the process's total CPU time at now; it returns true when a pause begins.
func (b *Breaker) Observe(cpu time.Duration, now time.Time) bool {
	defer func() { b.lastCPU, b.lastWall = cpu, now }()
	if b.lastWall.IsZero() {
		return false
	}
	wall := now.Sub(b.lastWall)
	if wall <= 0 {
		return false
	}
	b.LastCores = float64(cpu-b.lastCPU) / float64(wall)
	if now.Before(b.pausedUntil) {
		return false
	}
	if b.LastCores <= b.max {
		b.over = 0
		return false
	}
	b.over++
	if b.over < 2 {
		return false
	}
	b.over = 0
	b.pausedUntil = now.Add(b.pause)
	b.Breaks++
	return true
}

// Paused says whether capture should be paused at now.
func (b *Breaker) Paused(now time.Time) bool { return now.Before(b.pausedUntil) }

// ProcessCPU is the user + system CPU time of this process so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcessMaxRSS is the peak resident set size in bytes.
func ProcessMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}
