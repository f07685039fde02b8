// Package env reads the demo services' settings from environment variables, each error
// naming the variable and what it expects.
package env

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Lookup is os.LookupEnv, or a map in tests.
type Lookup func(string) (string, bool)

// OS reads the process environment.
var OS Lookup = os.LookupEnv

// Reader collects the first error so a service reads all its settings, then checks once.
type Reader struct {
	Lookup Lookup
	Err    error
}

func (r *Reader) fail(name, value, want string) {
	if r.Err == nil {
		r.Err = fmt.Errorf("%s=%q: %s", name, value, want)
	}
}

// String returns the variable or def when unset or empty.
func (r *Reader) String(name, def string) string {
	if v, ok := r.Lookup(name); ok && v != "" {
		return v
	}
	return def
}

// Port returns a TCP port number.
func (r *Reader) Port(name string, def int) int {
	v := r.String(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		r.fail(name, v, "expected a port number 1-65535")
		return def
	}
	return n
}

// Float returns a number within [lo, hi].
func (r *Reader) Float(name string, def, lo, hi float64) float64 {
	v := r.String(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		r.fail(name, v, fmt.Sprintf("expected a number within [%v, %v]", lo, hi))
		return def
	}
	return f
}

// Duration returns a Go duration (e.g. 300ms) within [lo, hi].
func (r *Reader) Duration(name string, def, lo, hi time.Duration) time.Duration {
	v := r.String(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail(name, v, fmt.Sprintf("expected a duration within [%v, %v]", lo, hi))
		return def
	}
	return d
}
