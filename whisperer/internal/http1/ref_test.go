package http1

import (
	"strconv"
	"strings"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// parseHeadRef is parseHead as it was before its fast paths (commit 6b7333a), kept as
// the reference FuzzParseHead holds the parser to. It parses a complete start line + header block (without the final empty line).
// Every string of the result is a substring of one copy of the block: one allocation for
// the text, one for the header slice.
func parseHeadRef(raw []byte, request bool, h *head) error {
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
		code, reason, _ := strings.Cut(strings.TrimLeft(after, " "), " ") // and net/http's leading spaces (fuzz find 4f3f657f)
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
		addRef(h, strings.TrimRight(name, " \t"), strings.TrimSpace(value))
		if bad == nil && h.contentLength == -2 {
			bad = errBadLength
		}
	}
	if h.contentLength == -2 {
		h.contentLength = -1
	}
	return bad
}

func addRef(h *head, name, value string) {
	if len(h.headers) < exchange.MaxHeaders {
		h.headers = append(h.headers, exchange.Header{clip(name, exchange.MaxHeaderNameChars), clip(value, exchange.MaxHeaderValueChars)})
	}
	switch len(name) {
	case 4, 7, 10, 12, 14, 16, 17:
	default:
		return // none of the names below
	}
	switch {
	case strings.EqualFold(name, "content-length"):
		n, err := strconv.ParseInt(value, 10, 64)
		switch {
		case err != nil || n < 0, h.contentLength >= 0 && h.contentLength != n:
			h.contentLength = -2 // invalid or conflicting: the framing cannot be trusted
		case h.contentLength != -2:
			h.contentLength = n
		}
	case strings.EqualFold(name, "transfer-encoding"):
		codings := strings.Split(value, ",")
		h.chunked = strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
		if !h.chunked && strings.TrimSpace(value) != "" && !strings.EqualFold(strings.TrimSpace(value), "identity") {
			// a non-chunked transfer coding: a response runs until close
			h.contentLength = -1
		}
	case strings.EqualFold(name, "connection"):
		if hasTokenRef(value, "close") {
			h.closeConn = true
		}
	case strings.EqualFold(name, "upgrade"):
		h.upgrade = true
		if hasTokenRef(value, "h2c") {
			h.upgradeH2C = true
		}
	case strings.EqualFold(name, "host"):
		h.host = value
	case strings.EqualFold(name, "content-encoding"):
		h.encoding = value
	case strings.EqualFold(name, "content-type"):
		h.ctype = value
	}
}

func hasTokenRef(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// headerEndRef is headerEnd before it searched with bytes.IndexByte.
func headerEndRef(b []byte, from int) int {
	if from < 0 {
		from = 0
	}
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}
