package exchange

import (
	"math"
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
	dst = appendTime(dst, e.StartedAt)
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
	// Durations are whole microseconds in milliseconds (Millis): m/1000 with m < 10^15
	// has at most 15 significant digits, so its shortest round-trip form, which strconv
	// writes, is that decimal with trailing zeros cut; division being correctly rounded,
	// float64(m)/1000 == f says f is such a value.
	if f < 1e12 {
		if m := int64(math.Round(f * 1000)); float64(m)/1000 == f {
			dst = strconv.AppendInt(dst, m/1000, 10)
			if frac := m % 1000; frac != 0 {
				d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
				n := 4
				for d[n-1] == '0' {
					n--
				}
				dst = append(dst, d[:n]...)
			}
			return dst
		}
	}
	if f >= 1e21 {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// appendTime writes t as TimeLayout does (UTC, milliseconds truncated) without the
// layout interpreter of time.AppendFormat: every exchange carries one.
func appendTime(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	// Years 1 to 9999 only (what the layout writes as four digits); the rest is time's.
	const minSec, maxSec = -62135596800, 253402300799
	if sec < minSec || sec > maxSec {
		return t.UTC().AppendFormat(dst, TimeLayout)
	}
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civil(days)
	ms := t.Nanosecond() / 1e6
	hh, mm, ss := int(rem/3600), int(rem/60%60), int(rem%60)
	var b [24]byte
	put4(b[0:], y)
	b[4] = '-'
	put2(b[5:], m)
	b[7] = '-'
	put2(b[8:], d)
	b[10] = 'T'
	put2(b[11:], hh)
	b[13] = ':'
	put2(b[14:], mm)
	b[16] = ':'
	put2(b[17:], ss)
	b[19] = '.'
	b[20], b[21], b[22] = byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10)
	b[23] = 'Z'
	return append(dst, b[:]...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// days_from_civil inverse).
func civil(z int64) (year, month, day int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func put2(b []byte, v int) { b[0], b[1] = byte('0'+v/10), byte('0'+v%10) }
func put4(b []byte, v int) {
	b[0], b[1], b[2], b[3] = byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10)
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look (ASCII, not a control character,
		// quote or backslash): headers are nearly all such bytes.
		for i+8 <= len(s) && plain8(load64(s[i:i+8])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
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

// plain8 says whether none of the 8 bytes of x is >= 0x80, < 0x20, '"' or '\\' (the
// exact "has a byte less than n" and "has a zero byte" tests, no false answers).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt20 := (x - ones*0x20) & ^x
	quote := x ^ (ones * '"')
	bslash := x ^ (ones * '\\')
	return (x|lt20|((quote-ones) & ^quote)|((bslash-ones) & ^bslash))&highs == 0
}

// load64 reads 8 bytes little-endian (the compiler makes it one load).
func load64(b string) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
