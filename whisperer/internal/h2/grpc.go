package h2

import (
	"strconv"
	"strings"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// isGRPC says whether a request content-type is gRPC's: application/grpc, optionally with
// a codec suffix (+proto, +json) or parameters. gRPC-Web is not: its status is in the body.
func isGRPC(contentType string) bool {
	const base = "application/grpc"
	if len(contentType) < len(base) || !strings.EqualFold(contentType[:len(base)], base) {
		return false
	}
	rest := contentType[len(base):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// grpcCall reads the service and method from a :path "/pkg.Service/Method" and the status
// from the trailers, or from the headers of a trailers-only response.
func grpcCall(path string, headers, trailers []exchange.Header) *exchange.GRPC {
	g := &exchange.GRPC{}
	p := strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		g.Service, g.Method = p[:i], p[i+1:]
	} else {
		g.Service = p
	}
	g.Service, g.Method = clip(g.Service, 1024), clip(g.Method, 1024)
	for _, h := range [][]exchange.Header{trailers, headers} {
		v := headerValue(h, "grpc-status")
		if v == "" {
			continue
		}
		if code, err := strconv.Atoi(v); err == nil && code >= 0 && code <= 1000 {
			g.Status = &code
		}
		if m := headerValue(h, "grpc-message"); m != "" {
			m = clip(percentDecode(m), 4096)
			g.Message = &m
		}
		break
	}
	return g
}

// percentDecode undoes gRPC's grpc-message encoding (%XX of UTF-8 bytes); a malformed
// escape is kept as it is, as the gRPC spec asks of receivers.
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
