package http1

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

var headSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n",
	"GET /index.html HTTP/1.1\r\nHost: 10.198.215.1:8080\r\n",
	"POST /x?q=1 HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive, Close\r\n",
	"PUT * HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nUpgrade: websocket, H2C\r\nContent-Type: text/plain\r\n",
	"GET / HTTP/1.1\r\nX: a\r\n  folded\r\nbad line\r\nContent-Length: 1\r\ncontent-length: 2\r\n",
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\nContent-Length: 17\r\nConnection: keep-alive\r\n",
	"HTTP/1.0 304 Not Modified\r\nContent-Encoding: gzip\r\nTransfer-Encoding: identity\r\n",
	"HTTP/1.1 101\r\nUpgrade: h2c\r\n\r\n",
	"HTTP/1.1 99 X\r\n: empty name\r\nName \t: v \t\r\n",
	"GET / HTTP/1.1\nHost:\xc2\xa0b\xc2\x85\n\n",
}

// FuzzParseHead holds parseHead to parseHeadRef (the parser before its fast paths) on
// any input, field for field, and, where net/http's ReadRequest/ReadResponse accept a
// head, to what net/http reads of its start line and framing, so neither can drift.
func FuzzParseHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, request bool) {
		var got, want head
		gotErr := parseHead(raw, request, &got)
		wantErr := parseHeadRef(raw, request, &want)
		if gotErr != wantErr || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Fatalf("%q:\n got  %v %#v\n want %v %#v", raw, gotErr, got, wantErr, want)
		}
		compareNetHTTP(t, raw, request, &got, gotErr)
		for from := -3; from <= len(raw); from += 1 + len(raw)/8 {
			if g, w := headerEnd(raw, from), headerEndRef(raw, from); g != w {
				t.Fatalf("headerEnd(%q, %d) = %d, want %d", raw, from, g, w)
			}
		}
	})
}

func TestParseHeadSeeds(t *testing.T) {
	for _, s := range headSeeds {
		for _, request := range []bool{true, false} {
			var got, want head
			gotErr, wantErr := parseHead([]byte(s), request, &got), parseHeadRef([]byte(s), request, &want)
			if gotErr != wantErr || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Fatalf("%q:\n got  %v %#v\n want %v %#v", s, gotErr, got, wantErr, want)
			}
			compareNetHTTP(t, []byte(s), request, &got, gotErr)
		}
	}
}

// compareNetHTTP: a head net/http accepts must parse here too, with the same method,
// target, version, status, Content-Length and chunked framing. (This parser is the more
// lenient one: what net/http refuses is not compared.)
func compareNetHTTP(t *testing.T, raw []byte, request bool, h *head, err error) {
	if headerEnd(raw, 0) >= 0 || bytes.HasSuffix(raw, []byte("\n")) {
		return // not one head
	}
	block := append(append([]byte(nil), raw...), "\r\n\r\n"...)
	if request {
		req, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(block)))
		if rerr != nil || req.ProtoMajor != 1 {
			return // HTTP/0.x, 2.x... in text: not for the HTTP/1 dissector
		}
		if err != nil {
			t.Fatalf("%q: net/http reads it, parseHead: %v", raw, err)
		}
		if req.Method != h.method || req.RequestURI != h.target || req.ProtoMinor != h.minor {
			t.Fatalf("%q: net/http %s %s 1.%d, parseHead %s %s 1.%d", raw, req.Method, req.RequestURI, req.ProtoMinor, h.method, h.target, h.minor)
		}
		compareFraming(t, raw, req.ContentLength, req.TransferEncoding, h, 0)
		return
	}
	res, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(block)), &http.Request{Method: "GET"})
	if rerr != nil || res.ProtoMajor != 1 || res.StatusCode < 100 {
		return // not HTTP/1, or a status below 100 (net/http takes "000")
	}
	if err != nil {
		t.Fatalf("%q: net/http reads it, parseHead: %v", raw, err)
	}
	if res.StatusCode != h.status || res.ProtoMinor != h.minor {
		t.Fatalf("%q: net/http %d 1.%d, parseHead %d 1.%d", raw, res.StatusCode, res.ProtoMinor, h.status, h.minor)
	}
	if res.StatusCode >= 200 && res.StatusCode != 204 && res.StatusCode != 304 {
		compareFraming(t, raw, res.ContentLength, res.TransferEncoding, h, -1)
	}
}

// absent is the length a message without Content-Length has (a request none, a
// response until close).
func compareFraming(t *testing.T, raw []byte, length int64, te []string, h *head, absent int64) {
	chunked := len(te) > 0 && te[len(te)-1] == "chunked"
	if chunked != h.chunked {
		t.Fatalf("%q: net/http chunked %v, parseHead %v", raw, chunked, h.chunked)
	}
	ours := h.contentLength
	if ours == -1 {
		ours = absent
	}
	if !chunked && length != ours {
		t.Fatalf("%q: net/http Content-Length %d, parseHead %d", raw, length, h.contentLength)
	}
}
