package http1

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// MaxHeaderBytes bounds a start line plus header block (and a chunked trailer block).
const MaxHeaderBytes = 64 * 1024

var (
	errNotHTTP      = errors.New("not an HTTP/1 start line")
	errHeaderTooBig = errors.New("header block over 64 KiB")
	errBadHeader    = errors.New("malformed header line")
	errBadLength    = errors.New("invalid Content-Length")
	errBadChunk     = errors.New("invalid chunk size")
)

// head is a parsed start line and header block.
type head struct {
	// request
	method, target string
	// response
	status int
	reason string

	minor         int // HTTP/1.<minor>
	headers       []exchange.Header
	contentLength int64 // -1: absent
	chunked       bool
	closeConn     bool
	upgradeH2C    bool
	upgrade       bool
	host          string
	encoding      string // Content-Encoding
	ctype         string // Content-Type
}

// isTokenChar reports an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// LooksLikeRequest says whether p starts like an HTTP/1 request line ("METHOD /"), used to
// classify a connection and to find a message start after a gap.
func LooksLikeRequest(p []byte) bool {
	n := 0
	for n < len(p) && n <= 24 && isTokenChar(p[n]) {
		if p[n] < 'A' || p[n] > 'Z' {
			return false // methods in use are upper case; anything else is not worth a guess
		}
		n++
	}
	if n == 0 || n > 24 {
		return false
	}
	if n == len(p) {
		return true // a prefix: cannot tell yet, the first packet is rarely this short
	}
	if p[n] != ' ' {
		return false
	}
	rest := p[n+1:]
	return len(rest) == 0 || rest[0] == '/' || rest[0] == '*' || bytes.HasPrefix(rest, []byte("http")) || isTokenChar(rest[0])
}

// LooksLikeResponse says whether p starts like a status line.
func LooksLikeResponse(p []byte) bool {
	const v = "HTTP/1."
	if len(p) < len(v) {
		return bytes.HasPrefix([]byte(v), p)
	}
	return bytes.HasPrefix(p, []byte(v))
}

// parseHead parses a complete start line + header block (without the final empty line).
// Every string of the result is a substring of one copy of the block: one allocation for
// the text, one for the header slice.
func parseHead(raw []byte, request bool, h *head) error {
	*h = head{contentLength: -1}
	block := string(raw)
	line, rest := cutLineS(block)
	if request {
		sp := strings.IndexByte(line, ' ')
		if sp <= 0 || sp > 64 {
			return errNotHTTP
		}
		for i := 0; i < sp; i++ {
			if !isTokenChar(line[i]) {
				return errNotHTTP
			}
		}
		after := line[sp+1:]
		i := strings.LastIndexByte(after, ' ')
		if i < 0 {
			return errNotHTTP
		}
		minor, ok := versionS(after[i+1:])
		if !ok {
			return errNotHTTP
		}
		h.method, h.target, h.minor = line[:sp], strings.TrimSpace(after[:i]), minor
	} else {
		v, after, _ := strings.Cut(line, " ")
		minor, ok := versionS(v)
		if !ok {
			return errNotHTTP
		}
		// net/http skips spaces before the code ("HTTP/1.0  100"); so do we
		code, reason, _ := strings.Cut(strings.TrimLeft(after, " "), " ")
		if len(code) != 3 || code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
			return errNotHTTP
		}
		h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
		h.reason, h.minor = reason, minor
	}
	h.headers = make([]exchange.Header, 0, min(strings.Count(rest, "\n")+1, exchange.MaxHeaders))
	var bad error
	for len(rest) > 0 {
		line, rest = cutLineS(rest)
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: a continuation of the previous value
			if n := len(h.headers); n > 0 {
				h.headers[n-1][1] = clip(h.headers[n-1][1]+" "+strings.TrimSpace(line), exchange.MaxHeaderValueChars)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || len(name) == 0 {
			bad = errBadHeader
			continue
		}
		for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
			name = name[:len(name)-1] // strings.TrimRight(name, " \t") without its set
		}
		h.add(name, strings.TrimSpace(value))
		if bad == nil && h.contentLength == -2 {
			bad = errBadLength
		}
	}
	if h.contentLength == -2 {
		h.contentLength = -1
	}
	return bad
}

func (h *head) add(name, value string) {
	if len(h.headers) < exchange.MaxHeaders {
		h.headers = append(h.headers, exchange.Header{clip(name, exchange.MaxHeaderNameChars), clip(value, exchange.MaxHeaderValueChars)})
	}
	// One candidate name per length: a length switch and one ASCII case-folded compare.
	switch len(name) {
	case 14:
		if !foldEq(name, "content-length") {
			return
		}
		n, err := strconv.ParseInt(value, 10, 64)
		switch {
		case err != nil || n < 0, h.contentLength >= 0 && h.contentLength != n:
			h.contentLength = -2 // invalid or conflicting: the framing cannot be trusted
		case h.contentLength != -2:
			h.contentLength = n
		}
	case 17:
		if !foldEq(name, "transfer-encoding") {
			return
		}
		codings := strings.Split(value, ",")
		h.chunked = strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
		if !h.chunked && strings.TrimSpace(value) != "" && !strings.EqualFold(strings.TrimSpace(value), "identity") {
			// a non-chunked transfer coding: a response runs until close
			h.contentLength = -1
		}
	case 10:
		if foldEq(name, "connection") && hasToken(value, "close") {
			h.closeConn = true
		}
	case 7:
		if foldEq(name, "upgrade") {
			h.upgrade = true
			if hasToken(value, "h2c") {
				h.upgradeH2C = true
			}
		}
	case 4:
		if foldEq(name, "host") {
			h.host = value
		}
	case 16:
		if foldEq(name, "content-encoding") {
			h.encoding = value
		}
	case 12:
		if foldEq(name, "content-type") {
			h.ctype = value
		}
	}
}

// foldEq says whether s equals lower (a lower-case ASCII name of the same length) ignoring
// ASCII case, as strings.EqualFold does for such a name: a non-ASCII byte never matches,
// and neither do the two Unicode letters that fold to ASCII (U+017F, U+212A), being
// several bytes long where the length has already matched.
func foldEq(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken says whether the comma-separated list v holds token (case-insensitive).
func hasToken(v, token string) bool {
	for len(v) > 0 {
		t := v
		if i := strings.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			v = ""
		}
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

func versionS(v string) (minor int, ok bool) {
	if len(v) != 8 || !strings.HasPrefix(v, "HTTP/1.") || v[7] < '0' || v[7] > '9' {
		return 0, false
	}
	return int(v[7] - '0'), true
}

func cutLineS(b string) (line, rest string) {
	i := strings.IndexByte(b, '\n')
	if i < 0 {
		return strings.TrimSuffix(b, "\r"), ""
	}
	return strings.TrimSuffix(b[:i], "\r"), b[i+1:]
}

func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte("\r")), nil
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:]
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// headerEnd finds the end of a header block in b (the index just past the empty line),
// searching from `from`; -1 when not yet complete.
func headerEnd(b []byte, from int) int {
	if from < 0 {
		from = 0
	}
	for i := from; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n') // vectorised: most bytes of a head are not LF
		if j < 0 {
			return -1
		}
		i += j
		// "\n\n" or "\n\r\n"
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// parseChunkSize parses a chunk-size line (hex, optional extensions).
func parseChunkSize(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, errBadChunk
	}
	n, err := strconv.ParseInt(string(line), 16, 64)
	if err != nil || n < 0 {
		return 0, errBadChunk
	}
	return n, nil
}
