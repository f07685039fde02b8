// Package h2 dissects HTTP/2 connections (prior knowledge and h2c upgrade) into exchanges,
// gRPC calls included: one exchange per stream.
//
// Frames are parsed here rather than with golang.org/x/net/http2's Framer: the Framer reads
// whole frames from a blocking io.Reader as one endpoint of a connection, while an observer
// is handed two byte streams in pieces of any size and must not hold whole frames (a DATA
// frame may be 16 MiB). Header blocks are decoded with that module's hpack Decoder, one
// per direction, fed fragment by fragment.
package h2

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/body"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

// Bounds on what one connection may hold.
const (
	initialTableSize   = 4096      // the HPACK dynamic table before any size update
	maxTableSize       = 64 << 10  // largest dynamic table followed (real peers use 4-64 KiB)
	maxHeaderBlock     = 256 << 10 // encoded bytes of one header block
	maxHeaderListBytes = 64 << 10  // decoded names and values kept per header list
	maxOpenStreams     = 1000
	maxRetained        = 8 << 20 // body and header bytes held for open streams
	maxDurationMs      = 86_400_000
)

// Options configure a Conn.
type Options struct {
	// BodyCap is the most bytes kept of each body (the rest is counted in BodySize).
	BodyCap int
	// Redactor redacts headers and trailers; nil redacts the always-redacted names.
	Redactor *redact.Redactor
	// OnParseError hears why part or all of a connection could not be followed; nil ignores.
	OnParseError func(error)
}

// Conn dissects one TCP connection carrying HTTP/2. It is not safe for concurrent use.
type Conn struct {
	opts   Options
	emit   func(*exchange.Exchange)
	client *side
	server *side

	streams    map[uint32]*stream
	lastClient uint32 // highest stream id the client opened
	retained   int
	done       bool
	midStream  bool // joined after the connection began: see NewMidStreamConn
	refused    bool // a stream was not followed (cap reached); reported once
}

// message is one direction of a stream.
type message struct {
	headers []exchange.Header
	body    []byte
	size    int64
	ended   bool
}

type stream struct {
	id        uint32
	startedAt time.Time
	last      time.Time // last response frame

	method, path, authority string
	req                     message
	reqBody                 *exchange.Body // an upgraded request's body, captured as HTTP/1.1
	upgraded                bool

	status   int // of the final response; 0 until its headers are seen
	resp     message
	trailers []exchange.Header
	retained int
	unknown  int // header fields not decodable (mid-stream): the exchange is "unparsed"
}

// NewConn follows a connection with prior knowledge: the client starts with the preface.
func NewConn(opts Options, emit func(*exchange.Exchange)) *Conn {
	if opts.Redactor == nil {
		opts.Redactor = redact.New(nil)
	}
	if opts.BodyCap < 0 {
		opts.BodyCap = 0
	}
	if emit == nil {
		emit = func(*exchange.Exchange) {}
	}
	c := &Conn{opts: opts, emit: emit, streams: make(map[uint32]*stream)}
	c.client = newSide(c, true)
	c.server = newSide(c, false)
	return c
}

// NewMidStreamConn follows a connection whose start the capture missed (it was open
// before the whisperer attached). Each direction waits for a packet that starts on a frame
// boundary (LooksLikeFrames); header blocks are decoded without the HPACK dynamic table
// built before that (see partialDecoder). Streams whose request headers are seen are
// reported; one with fields that could not be decoded is reported with what was decoded
// and the error "unparsed", never with guessed values. Streams begun before are not.
func NewMidStreamConn(opts Options, emit func(*exchange.Exchange)) *Conn {
	c := NewConn(opts, emit)
	c.midStream = true
	for _, s := range []*side{c.client, c.server} {
		s.preface, s.first = 0, false
		s.partial = &partialDecoder{}
	}
	return c
}

// NewUpgradedConn follows a connection after an HTTP/1.1 "Upgrade: h2c" request and its
// "101 Switching Protocols": the request is stream 1, whose response arrives as HTTP/2,
// and the client sends the preface. req is redacted again here (redaction is idempotent).
func NewUpgradedConn(opts Options, emit func(*exchange.Exchange), req exchange.Request, startedAt time.Time) *Conn {
	c := NewConn(opts, emit)
	st := &stream{
		id: 1, startedAt: startedAt, last: startedAt,
		method: req.Method, path: req.Path, authority: req.Authority,
		// A copy: redaction happens in place, and these belong to the caller.
		req:     message{headers: c.opts.Redactor.Headers(req.Headers), size: req.BodySize, ended: true},
		reqBody: req.Body, upgraded: true,
	}
	c.streams[1] = st
	c.lastClient = 1
	return c
}

// FromClient takes the next bytes the client sent; ts is when they were captured.
func (c *Conn) FromClient(p []byte, ts time.Time) { c.feed(c.client, p, ts) }

// FromServer takes the next bytes the server sent; ts is when they were captured.
func (c *Conn) FromServer(p []byte, ts time.Time) { c.feed(c.server, p, ts) }

func (c *Conn) feed(s *side, p []byte, ts time.Time) {
	if c.done {
		return
	}
	// The whisperer runs in someone else's pod: a bug here must cost one connection, not
	// the process.
	defer func() {
		if r := recover(); r != nil {
			c.fail(fmt.Errorf("h2 %s: internal error: %v", s.name(), r), ts)
		}
	}()
	if err := s.feed(p, ts); err != nil {
		c.fail(err, ts)
	}
}

// Close ends the connection: streams still open are emitted with the error "reset" (the
// connection was reset) or "truncated" (it closed, or the capture ended, before them).
func (c *Conn) Close(ts time.Time, reset bool) {
	if c.done {
		return
	}
	c.done = true
	e := exchange.ErrTruncated
	if reset {
		e = exchange.ErrReset
	}
	c.finishAll(ts, e, func(*stream) bool { return true })
}

// fail stops decoding: nothing after an error can be trusted (HPACK state is lost).
// Streams whose requests were seen are emitted as "unparsed".
func (c *Conn) fail(err error, ts time.Time) {
	if c.done {
		return
	}
	c.done = true
	c.parseError(err)
	c.finishAll(ts, exchange.ErrUnparsed, func(*stream) bool { return true })
}

func (c *Conn) parseError(err error) {
	if c.opts.OnParseError != nil {
		c.opts.OnParseError(err)
	}
}

// finishAll emits the open streams that match, in stream order.
func (c *Conn) finishAll(ts time.Time, e string, match func(*stream) bool) {
	ids := make([]uint32, 0, len(c.streams))
	for id, st := range c.streams {
		if match(st) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.finish(c.streams[id], ts, e)
	}
}

// data adds DATA payload (padding excluded) to its stream.
func (c *Conn) data(s *side, p []byte) {
	st := c.streams[s.sid]
	if st == nil {
		return
	}
	m := &st.req
	if !s.client {
		if st.status == 0 {
			return // DATA before the response headers is a peer's protocol error
		}
		m = &st.resp
	}
	if m.ended {
		return
	}
	m.size += int64(len(p))
	n := min(len(p), c.opts.BodyCap-len(m.body), maxRetained-c.retained)
	if n > 0 {
		m.body = append(m.body, p[:n]...)
		c.retained += n
		st.retained += n
	}
}

// endStream marks one direction of a stream ended; the response ending completes it.
func (c *Conn) endStream(s *side, sid uint32, ts time.Time) {
	st := c.streams[sid]
	if st == nil {
		return
	}
	if s.client {
		st.req.ended = true
		return
	}
	st.last = ts
	if st.status != 0 {
		st.resp.ended = true
	}
	c.finish(st, ts, "")
}

// headerBlock acts on a complete header block.
func (c *Conn) headerBlock(s *side, b *block, ts time.Time) error {
	if b.push {
		if s.client {
			return s.errorf("PUSH_PROMISE from the client")
		}
		c.open(b, b.promised, true, ts)
		return nil
	}
	st := c.streams[b.sid]
	if s.client {
		if st != nil || b.sid <= c.lastClient {
			// Request trailers, or a block for a stream already emitted: the decoder has
			// kept its table in step, nothing else to do.
			if st != nil && b.endStream {
				st.req.ended = true
			}
			return nil
		}
		if b.sid%2 == 0 {
			return s.errorf("client opened even stream %d", b.sid)
		}
		c.lastClient = b.sid
		c.open(b, b.sid, b.endStream, ts)
		return nil
	}
	if st == nil {
		return nil // a stream not followed, or already reset
	}
	st.last = ts
	st.unknown += b.unknown
	if st.status == 0 {
		status := atoiStatus(b.status)
		if status == 0 {
			c.parseError(s.errorf("stream %d: response without a valid :status %q", b.sid, b.status))
			c.finish(st, ts, exchange.ErrUnparsed)
			return nil
		}
		if status >= 200 {
			st.status = status
			st.resp.headers = c.keep(st, b)
		}
		// 1xx: informational, the final response follows.
	} else {
		st.trailers = c.keep(st, b)
	}
	if b.endStream {
		if st.status != 0 {
			st.resp.ended = true
		}
		c.finish(st, ts, "")
	}
	return nil
}

// open starts following a stream whose request headers are in b.
func (c *Conn) open(b *block, id uint32, ended bool, ts time.Time) {
	if b.method == "" {
		c.parseError(fmt.Errorf("h2: stream %d: request without :method", id))
		return
	}
	if c.streams[id] != nil {
		c.parseError(fmt.Errorf("h2: stream %d promised twice", id))
		return
	}
	if len(c.streams) >= maxOpenStreams || c.retained >= maxRetained {
		if !c.refused {
			c.refused = true
			c.parseError(fmt.Errorf("h2: stream %d not followed: %d streams open, %d bytes held", id, len(c.streams), c.retained))
		}
		return
	}
	st := &stream{
		id: id, startedAt: b.ts, last: ts,
		method: b.method, path: b.path, authority: b.authority,
	}
	st.req.headers = c.keep(st, b)
	st.req.ended = ended
	st.unknown = b.unknown
	c.streams[id] = st
}

// keep takes a block's fields for a stream, within the connection's budget.
func (c *Conn) keep(st *stream, b *block) []exchange.Header {
	fields, n := b.take()
	for n > maxRetained-c.retained && len(fields) > 0 {
		last := fields[len(fields)-1]
		n -= len(last[0]) + len(last[1])
		fields = fields[:len(fields)-1]
	}
	c.retained += n
	st.retained += n
	return fields
}

// reset handles RST_STREAM from either side.
func (c *Conn) reset(sid uint32, ts time.Time) {
	if st := c.streams[sid]; st != nil {
		c.finish(st, ts, exchange.ErrReset)
	}
}

// goAway handles GOAWAY: streams the sender's peer opened above lastID were never
// processed and will not be answered on this connection.
func (c *Conn) goAway(s *side, lastID uint32, ts time.Time) {
	// The server's GOAWAY is about odd (client) streams, the client's about pushed ones.
	parity := uint32(1)
	if s.client {
		parity = 0
	}
	c.finishAll(ts, exchange.ErrReset, func(st *stream) bool {
		return st.id%2 == parity && st.id > lastID
	})
}

// finish emits a stream and forgets it. e is "" when the response completed.
func (c *Conn) finish(st *stream, ts time.Time, e string) {
	delete(c.streams, st.id)
	c.retained -= st.retained

	end := st.last
	if e != "" {
		end = ts
	}
	ex := &exchange.Exchange{
		Protocol:   exchange.ProtoH2,
		StartedAt:  st.startedAt,
		DurationMs: durationMs(st.startedAt, end),
	}
	// Read what the bodies need before redaction, which may hide any header.
	reqCT := headerValue(st.req.headers, "content-type")
	reqCE := headerValue(st.req.headers, "content-encoding")
	respCT := headerValue(st.resp.headers, "content-type")
	respCE := headerValue(st.resp.headers, "content-encoding")
	ex.Request = exchange.Request{
		Method:    st.method,
		Path:      st.path,
		Authority: st.authority,
		Headers:   c.redact(st.req.headers),
		BodySize:  st.req.size,
		Body:      st.reqBody,
	}
	if !st.upgraded {
		ex.Request.Body = body.Capture(st.req.body, st.req.size, reqCE, reqCT, c.opts.BodyCap, !st.req.ended && e != "")
	}
	if st.status != 0 {
		ex.Response = &exchange.Response{
			Status:   st.status,
			Headers:  c.redact(st.resp.headers),
			Trailers: c.redact(st.trailers),
			BodySize: st.resp.size,
			Body:     body.Capture(st.resp.body, st.resp.size, respCE, respCT, c.opts.BodyCap, !st.resp.ended),
		}
	}
	if isGRPC(reqCT) || st.unknown > 0 && reqCT == "" && (hasGRPCField(st.resp.headers) || hasGRPCField(st.trailers)) {
		// (Mid-stream, the content-type may be one of the fields not decoded; a grpc-*
		// response field says what the call was.)
		// After redaction: a grpc-message the settings redact stays redacted here too.
		ex.Protocol = exchange.ProtoGRPC
		ex.GRPC = grpcCall(st.path, st.resp.headers, st.trailers)
	}
	if e == "" && st.unknown > 0 {
		e = exchange.ErrUnparsed
	}
	if e != "" {
		ex.Error = &e
	}
	c.emit(ex)
}

// redact replaces secret values in place: the stream owns its header lists, and nothing
// reads them after the exchange is built. Never nil.
func (c *Conn) redact(h []exchange.Header) []exchange.Header {
	if h == nil {
		return []exchange.Header{}
	}
	for i := range h {
		if c.opts.Redactor.Redacts(h[i][0]) {
			h[i][1] = exchange.Redacted
		}
	}
	return h
}

// hasGRPCField says whether a response carries a field only gRPC sends (grpc-status,
// grpc-message...).
func hasGRPCField(h []exchange.Header) bool {
	for _, f := range h {
		if len(f[0]) > 5 && strings.EqualFold(f[0][:5], "grpc-") {
			return true
		}
	}
	return false
}

func durationMs(from, to time.Time) float64 {
	ms := float64(to.Sub(from)) / float64(time.Millisecond)
	return max(0, min(ms, maxDurationMs))
}

// atoiStatus parses a three-digit :status, 0 when it is not one.
func atoiStatus(s string) int {
	if len(s) != 3 {
		return 0
	}
	n := 0
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 100 {
		return 0
	}
	return n
}
