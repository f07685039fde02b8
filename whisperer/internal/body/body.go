// Package body turns the bytes captured of an HTTP body into the exchange's Body:
// decoded from gzip or deflate, cut at the cap, UTF-8 text or base64, and honest about
// what is missing.
package body

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// Capture builds the Body of a message whose body had wireSize bytes on the wire (after
// de-chunking, before decompression), of which raw is what the capture kept. It returns
// nil when there was no body. capBytes bounds the decoded text (and any inflation: a
// compression bomb is cut at the cap, marked truncated). missed says the capture lost
// bytes of this body (a gap in the TCP stream).
func Capture(raw []byte, wireSize int64, contentEncoding, contentType string, capBytes int, missed bool) *exchange.Body {
	return CaptureInto(nil, raw, wireSize, contentEncoding, contentType, capBytes, missed)
}

// CaptureInto is Capture writing into dst when it is not nil (storage the caller
// allocated with the exchange: one allocation less per body).
func CaptureInto(dst *exchange.Body, raw []byte, wireSize int64, contentEncoding, contentType string, capBytes int, missed bool) *exchange.Body {
	if wireSize == 0 {
		return nil
	}
	if capBytes < 0 {
		capBytes = 0
	}
	truncated := missed || int64(len(raw)) < wireSize
	data := raw
	if decoded, complete, ok := decode(raw, contentEncoding, capBytes); ok {
		data = decoded
		truncated = truncated || !complete
	}
	if len(data) > capBytes {
		data = data[:capBytes]
		truncated = true
	}
	if truncated {
		data = trimPartialRune(data)
	}
	if dst == nil {
		dst = new(exchange.Body)
	}
	if isText(data, contentType) {
		*dst = exchange.Body{Encoding: "utf8", Text: string(data), Truncated: truncated}
	} else {
		*dst = exchange.Body{Encoding: "base64", Text: base64.StdEncoding.EncodeToString(data), Truncated: truncated}
	}
	return dst
}

// decode undoes the content codings, last applied first. ok is false when a coding is
// unknown or the data does not even start as that coding: the raw bytes are shown then.
// complete is false when decoding stopped early (cut input, corrupt data, the cap).
func decode(raw []byte, contentEncoding string, capBytes int) (out []byte, complete bool, ok bool) {
	if contentEncoding == "" {
		return raw, true, true // nearly every body: nothing to split
	}
	codings := strings.Split(contentEncoding, ",")
	out, complete = raw, true
	decodedAny := false
	for i := len(codings) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(codings[i]))
		switch coding {
		case "", "identity":
			continue
		case "gzip", "x-gzip", "deflate":
		default:
			return nil, false, false
		}
		next, done, started := inflate(out, coding, capBytes)
		if !started {
			if decodedAny {
				// The inner data is not what the header claims: show what we have.
				return out, false, true
			}
			return nil, false, false
		}
		decodedAny = true
		out, complete = next, complete && done
		if !done {
			// A cut or corrupt outer layer: inner layers cannot be trusted to decode.
			break
		}
	}
	return out, complete, true
}

// inflate decompresses at most capBytes+1 bytes (so a bomb costs no more than the cap).
// started is false when the header is not valid for the coding.
func inflate(in []byte, coding string, capBytes int) (out []byte, complete bool, started bool) {
	var r io.Reader
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(in))
		if err != nil {
			return nil, false, false
		}
		zr.Multistream(true)
		r = zr
	case "deflate":
		// HTTP "deflate" is zlib-wrapped by the standard; some servers send raw deflate.
		if zr, err := zlib.NewReader(bytes.NewReader(in)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(in))
		}
	}
	limit := int64(capBytes) + 1
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit))
	if n == 0 && err != nil && coding == "deflate" {
		return nil, false, false
	}
	out = buf.Bytes()
	if n >= limit {
		return out[:capBytes], false, true
	}
	return out, err == nil, true
}

// trimPartialRune drops an incomplete UTF-8 sequence left at the end by a cut.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return b
		}
		if utf8.RuneStart(c) {
			if r, size := utf8.DecodeRune(b[len(b)-i:]); r == utf8.RuneError && size <= 1 {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// isText says whether data can be shown as UTF-8: valid, no NUL bytes, and not of a type
// that is binary whatever its bytes look like.
func isText(data []byte, contentType string) bool {
	ct := strings.ToLower(contentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		if cs := charset(ct[i+1:]); cs != "" && cs != "utf-8" && cs != "utf8" && cs != "us-ascii" {
			return false
		}
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.HasPrefix(ct, "image/"), strings.HasPrefix(ct, "audio/"), strings.HasPrefix(ct, "video/"),
		strings.HasPrefix(ct, "font/"), ct == "application/octet-stream", strings.HasPrefix(ct, "application/grpc"),
		strings.Contains(ct, "protobuf"), ct == "application/zip", ct == "application/gzip", ct == "application/pdf":
		return false
	}
	return utf8.Valid(data) && bytes.IndexByte(data, 0) < 0
}

func charset(params string) string {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.TrimSpace(k) == "charset" {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}
