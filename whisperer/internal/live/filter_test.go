package live

import (
	"net/netip"
	"testing"

	"github.com/spider-backstage/spider/whisperer/internal/capture"
)

func TestEffectiveFilter(t *testing.T) {
	cases := []struct{ filter, url, want string }{
		{"tcp port 80", "http://10.96.0.12:8081", "(tcp port 80) and not (tcp and host 10.96.0.12 and port 8081)"},
		{"", "http://10.96.0.12:8081", "not (tcp and host 10.96.0.12 and port 8081)"},
		{"tcp", "https://[fd00::1]", "(tcp) and not (tcp and host fd00::1 and port 443)"},
		{"tcp", "http://agent.spider:8081", "(tcp) and not (tcp and (host 10.96.7.1 or host 10.96.7.2) and port 8081)"}, // a Service name, resolved
		{"tcp", "http://unknown.invalid:8081", "tcp"},                                                                   // unresolvable: left out rather than handed to libpcap
	}
	resolve := func(host string) []netip.Addr {
		if host == "agent.spider" {
			return []netip.Addr{netip.MustParseAddr("10.96.7.2"), netip.MustParseAddr("::ffff:10.96.7.1"), netip.MustParseAddr("10.96.7.2")}
		}
		return nil
	}
	for _, c := range cases {
		got := effectiveFilter(c.filter, c.url, resolve)
		if got != c.want {
			t.Errorf("effectiveFilter(%q, %q) = %q, want %q", c.filter, c.url, got, c.want)
		}
		if err := capture.CheckFilter(got, 65535); err != nil {
			t.Errorf("%q does not compile: %v", got, err)
		}
	}
	if err := capture.CheckFilter("tcp port", 65535); err == nil || err.Error() == "" {
		t.Fatal("an invalid filter must fail with the compiler's message")
	} else if want := `capture filter "tcp port": `; err.Error()[:len(want)] != want {
		t.Fatalf("message %q", err)
	}
}
