package live

import (
	"testing"

	"github.com/spider-backstage/spider/whisperer/internal/capture"
)

func TestEffectiveFilter(t *testing.T) {
	cases := []struct{ filter, url, want string }{
		{"tcp port 80", "http://10.96.0.12:8081", "(tcp port 80) and not (tcp and host 10.96.0.12 and port 8081)"},
		{"", "http://10.96.0.12:8081", "not (tcp and host 10.96.0.12 and port 8081)"},
		{"tcp", "https://[fd00::1]", "(tcp) and not (tcp and host fd00::1 and port 443)"},
		{"tcp", "http://agent.spider:8081", "tcp"}, // a name: libpcap would resolve it at compile time
	}
	for _, c := range cases {
		got := effectiveFilter(c.filter, c.url)
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
