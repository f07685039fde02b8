// Package redact replaces the values of secret headers before an exchange leaves the
// whisperer: exchange.AlwaysRedacted plus the names the Whisperer's settings add.
package redact

import (
	"strings"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// Redactor knows which header names (case-insensitive) to redact. Safe for concurrent use.
type Redactor struct {
	names map[string]struct{}
	// byLen holds the redacted names (lower case) by length: a header is compared only
	// with names of its own length, case-insensitively, without allocating.
	byLen map[int][]string
	// short is byLen for names under 64 bytes, as a slice: a map lookup per header was
	// a visible part of the live profile.
	short [64][]string
}

// New redacts exchange.AlwaysRedacted plus extra (blank names are ignored).
func New(extra []string) *Redactor {
	r := &Redactor{names: make(map[string]struct{}, len(exchange.AlwaysRedacted)+len(extra))}
	for _, n := range exchange.AlwaysRedacted {
		r.names[n] = struct{}{}
	}
	for _, n := range extra {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			r.names[n] = struct{}{}
		}
	}
	r.byLen = make(map[int][]string, len(r.names))
	for n := range r.names {
		r.byLen[len(n)] = append(r.byLen[len(n)], n)
		if len(n) < len(r.short) {
			r.short[len(n)] = append(r.short[len(n)], n)
		}
	}
	return r
}

// None redacts nothing: for `read --no-redact` on a file the user already holds.
func None() *Redactor { return &Redactor{} }

// Redacts says whether values of the header name are redacted.
func (r *Redactor) Redacts(name string) bool {
	names := r.short[len(name)&63]
	if len(name) >= len(r.short) {
		names = r.byLen[len(name)]
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Headers returns a copy of h (never nil) with the values of redacted names replaced by
// exchange.Redacted.
func (r *Redactor) Headers(h []exchange.Header) []exchange.Header {
	out := make([]exchange.Header, len(h))
	copy(out, h)
	for i := range out {
		if r.Redacts(out[i][0]) {
			out[i][1] = exchange.Redacted
		}
	}
	return out
}

// InPlace redacts h itself, for a caller that owns the slice; nil becomes empty.
func (r *Redactor) InPlace(h []exchange.Header) []exchange.Header {
	if h == nil {
		return []exchange.Header{}
	}
	if len(r.names) == 0 {
		return h
	}
	for i := range h {
		if r.Redacts(h[i][0]) {
			h[i][1] = exchange.Redacted
		}
	}
	return h
}
