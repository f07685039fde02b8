package exchange

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLayout is how times leave the whisperer: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the exchange in the exact shape of spider-common's schema (headers
// never null) without reflection: the whisperer encodes every exchange it reports.
func (e Exchange) MarshalJSON() ([]byte, error) { return AppendJSON(nil, &e), nil }

// AppendJSON appends the JSON of e to dst.
func AppendJSON(dst []byte, e *Exchange) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"attachmentId":`...)
	dst = appendString(dst, e.AttachmentID)
	dst = append(dst, `,"container":`...)
	dst = appendString(dst, e.Container)
	dst = append(dst, `,"pod":`...)
	dst = appendString(dst, e.Pod)
	dst = append(dst, `,"namespace":`...)
	dst = appendString(dst, e.Namespace)
	dst = append(dst, `,"protocol":`...)
	dst = appendString(dst, e.Protocol)
	dst = append(dst, `,"direction":`...)
	dst = appendString(dst, e.Direction)
	dst = append(dst, `,"startedAt":"`...)
	dst = e.StartedAt.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","durationMs":`...)
	dst = appendFloat(dst, e.DurationMs)
	dst = append(dst, `,"client":`...)
	dst = appendEndpoint(dst, &e.Client)
	dst = append(dst, `,"server":`...)
	dst = appendEndpoint(dst, &e.Server)
	dst = append(dst, `,"request":{"method":`...)
	dst = appendString(dst, e.Request.Method)
	dst = append(dst, `,"path":`...)
	dst = appendString(dst, e.Request.Path)
	dst = append(dst, `,"authority":`...)
	dst = appendString(dst, e.Request.Authority)
	dst = append(dst, `,"headers":`...)
	dst = appendHeaders(dst, e.Request.Headers)
	dst = append(dst, `,"bodySize":`...)
	dst = strconv.AppendInt(dst, e.Request.BodySize, 10)
	dst = append(dst, `,"body":`...)
	dst = appendBody(dst, e.Request.Body)
	dst = append(dst, `},"response":`...)
	if r := e.Response; r == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"status":`...)
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
		dst = append(dst, `,"headers":`...)
		dst = appendHeaders(dst, r.Headers)
		dst = append(dst, `,"trailers":`...)
		dst = appendHeaders(dst, r.Trailers)
		dst = append(dst, `,"bodySize":`...)
		dst = strconv.AppendInt(dst, r.BodySize, 10)
		dst = append(dst, `,"body":`...)
		dst = appendBody(dst, r.Body)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"grpc":`...)
	if g := e.GRPC; g == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"service":`...)
		dst = appendString(dst, g.Service)
		dst = append(dst, `,"method":`...)
		dst = appendString(dst, g.Method)
		dst = append(dst, `,"status":`...)
		if g.Status == nil {
			dst = append(dst, "null"...)
		} else {
			dst = strconv.AppendInt(dst, int64(*g.Status), 10)
		}
		dst = append(dst, `,"message":`...)
		dst = appendOptString(dst, g.Message)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"error":`...)
	dst = appendOptString(dst, e.Error)
	return append(dst, '}')
}

// Millis is a duration as the schema's durationMs (microsecond precision).
func Millis(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000
}

func appendEndpoint(dst []byte, p *Endpoint) []byte {
	dst = append(dst, `{"ip":`...)
	dst = appendString(dst, p.IP)
	dst = append(dst, `,"port":`...)
	dst = strconv.AppendInt(dst, int64(p.Port), 10)
	dst = append(dst, `,"name":`...)
	dst = appendOptString(dst, p.Name)
	return append(dst, '}')
}

func appendHeaders(dst []byte, h []Header) []byte {
	dst = append(dst, '[')
	for i := range h {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendString(dst, h[i][0])
		dst = append(dst, ',')
		dst = appendString(dst, h[i][1])
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

func appendBody(dst []byte, b *Body) []byte {
	if b == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"encoding":`...)
	dst = appendString(dst, b.Encoding)
	dst = append(dst, `,"text":`...)
	dst = appendString(dst, b.Text)
	dst = append(dst, `,"truncated":`...)
	dst = strconv.AppendBool(dst, b.Truncated)
	return append(dst, '}')
}

func appendOptString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendString(dst, *s)
}

func appendFloat(dst []byte, f float64) []byte {
	if f != f || f < 0 {
		f = 0 // NaN or negative: the schema wants a non-negative number
	}
	if f >= 1e21 {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
