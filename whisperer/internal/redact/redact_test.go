package redact

import (
	"reflect"
	"testing"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

func TestHeaders(t *testing.T) {
	cases := []struct {
		name string
		r    *Redactor
		in   []exchange.Header
		want []exchange.Header
	}{
		{name: "nil gives empty, not nil", r: New(nil), in: nil, want: []exchange.Header{}},
		{name: "always redacted, any case", r: New(nil),
			in: []exchange.Header{{"Authorization", "Bearer x"}, {"COOKIE", "a=b"}, {"set-cookie", "s=1"},
				{"Proxy-Authorization", "Basic y"}, {"Accept", "*/*"}},
			want: []exchange.Header{{"Authorization", exchange.Redacted}, {"COOKIE", exchange.Redacted},
				{"set-cookie", exchange.Redacted}, {"Proxy-Authorization", exchange.Redacted}, {"Accept", "*/*"}}},
		{name: "extra names, case-insensitive, trimmed", r: New([]string{" X-Api-Key ", "", "x-token"}),
			in:   []exchange.Header{{"x-api-key", "k"}, {"X-TOKEN", "t"}, {"x-other", "o"}},
			want: []exchange.Header{{"x-api-key", exchange.Redacted}, {"X-TOKEN", exchange.Redacted}, {"x-other", "o"}}},
		{name: "repeated headers all redacted", r: New(nil),
			in:   []exchange.Header{{"set-cookie", "a"}, {"set-cookie", "b"}},
			want: []exchange.Header{{"set-cookie", exchange.Redacted}, {"set-cookie", exchange.Redacted}}},
		{name: "none redacts nothing", r: None(),
			in:   []exchange.Header{{"authorization", "Bearer x"}},
			want: []exchange.Header{{"authorization", "Bearer x"}}},
		{name: "none of nil is empty", r: None(), in: nil, want: []exchange.Header{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before []exchange.Header
			if c.in != nil {
				before = append([]exchange.Header{}, c.in...)
			}
			got := c.r.Headers(c.in)
			if got == nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
			if c.in != nil && !reflect.DeepEqual(c.in, before) {
				t.Fatalf("input changed: %#v", c.in)
			}
			if got := c.r.InPlace(before); got == nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("in place: got %#v, want %#v", got, c.want)
			}
		})
	}
}
