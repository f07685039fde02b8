// Package http1 dissects HTTP/1.0 and 1.1 from the two reassembled byte streams of a TCP
// connection: incrementally, packet by packet, with every buffer bounded (headers 64 KiB,
// bodies at the cap). It pairs pipelined requests with their responses, knows which
// responses have no body (HEAD, 1xx, 204, 304), reads chunked and until-close bodies,
// survives gaps, and hands an h2c upgrade to the HTTP/2 dissector.
package http1

import (
	"errors"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/body"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

// Stream is what takes over a connection after an upgrade (the h2 dissector).
type Stream interface {
	FromClient(p []byte, ts time.Time)
	FromServer(p []byte, ts time.Time)
	Close(ts time.Time, reset bool)
}

// Options configure a connection's dissector.
type Options struct {
	BodyCap      int
	Redactor     *redact.Redactor
	OnParseError func(error)
	// H2C starts the HTTP/2 dissector after "101 Switching Protocols" to an
	// "Upgrade: h2c" request (which becomes its stream 1); nil leaves such a connection opaque.
	H2C func(req exchange.Request, startedAt time.Time) Stream
}

// MaxPipelined bounds the requests waiting for their responses on one connection.
const MaxPipelined = 64

const maxHeld = 64 * 1024 // client bytes held while an h2c upgrade is undecided

type state uint8

const (
	stIdle state = iota // between messages
	stHead
	stBody // Content-Length
	stChunkLine
	stChunkData
	stChunkEnd // CRLF after chunk data
	stTrailer
	stUntilClose
	stResync // after a gap or an error: wait for a packet that starts a message
	stHold   // client: waiting for the answer to an h2c upgrade
	stOpaque // after a non-h2c upgrade or CONNECT
)

type reader struct {
	request   bool
	state     state
	buf       []byte // head, chunk line or trailer bytes
	scanned   int
	remaining int64
	head      *head
	hd        head   // what head points to: reused, only the header slice is kept
	raw       []byte // captured body bytes, at most the cap
	size      int64  // body bytes on the wire
	missed    bool
	trailers  []exchange.Header
	started   time.Time
	last      time.Time
}

// record is everything one exchange needs, allocated at once.
type record struct {
	ex   exchange.Exchange
	resp exchange.Response
	p    pending
}

type pending struct {
	ex         *exchange.Exchange
	resp       *exchange.Response // storage for ex.Response
	isHead     bool
	isConnect  bool
	upgradeH2C bool
	reqDone    bool
	answered   bool // the response head has been seen
	// storage for the bodies, allocated with the exchange
	reqBody, respBody exchange.Body
}

// Conn dissects one connection. Not safe for concurrent use.
type Conn struct {
	opts    Options
	emit    func(*exchange.Exchange)
	client  reader
	server  reader
	pending []*pending
	cur     *pending // the request the client reader is in
	next    Stream
	held    []byte
}

// NewConn returns a dissector that calls emit for every finished exchange.
func NewConn(opts Options, emit func(*exchange.Exchange)) *Conn {
	if opts.Redactor == nil {
		opts.Redactor = redact.New(nil)
	}
	c := &Conn{opts: opts, emit: emit}
	c.client.request = true
	return c
}

// Pending is the number of requests waiting for a response.
func (c *Conn) Pending() int { return len(c.pending) }

func (c *Conn) parseError(err error) {
	if c.opts.OnParseError != nil {
		c.opts.OnParseError(err)
	}
}

// FromClient takes the next in-order bytes the client sent.
func (c *Conn) FromClient(p []byte, ts time.Time) {
	if c.next != nil {
		c.next.FromClient(p, ts)
		return
	}
	c.feed(&c.client, p, ts, true)
}

// FromServer takes the next in-order bytes the server sent.
func (c *Conn) FromServer(p []byte, ts time.Time) {
	if c.next != nil {
		c.next.FromServer(p, ts)
		return
	}
	c.feed(&c.server, p, ts, true)
}

// Gap says the capture lost n bytes of one direction.
func (c *Conn) Gap(client bool, n int, ts time.Time) {
	if c.next != nil {
		// HTTP/2 framing and HPACK state cannot survive a gap.
		c.next.Close(ts, false)
		c.next = nil
		c.client.state, c.server.state = stOpaque, stOpaque
		return
	}
	r := &c.server
	if client {
		r = &c.client
	}
	switch r.state {
	case stIdle, stResync, stOpaque:
		if r.state == stIdle {
			r.state = stResync
		}
		return
	case stBody, stChunkData:
		if r.remaining >= int64(n) {
			r.remaining -= int64(n)
			r.size += int64(n)
			r.missed = true
			if r.remaining == 0 {
				if r.state == stBody {
					c.finish(r, ts)
				} else {
					r.state = stChunkEnd
					r.buf = r.buf[:0]
				}
			}
			return
		}
	case stUntilClose:
		r.size += int64(n)
		r.missed = true
		return
	case stHold:
		c.held = nil
		r.state = stResync
		return
	}
	c.abort(r, ts, exchange.ErrTruncated)
	r.state = stResync
}

// EndOfStream says one side sent FIN (after all its data).
func (c *Conn) EndOfStream(client bool, ts time.Time) {
	if c.next != nil {
		return
	}
	if client {
		if c.client.state != stIdle && c.client.state != stResync && c.client.state != stOpaque && c.client.state != stHold {
			c.abort(&c.client, ts, exchange.ErrTruncated)
		}
		return
	}
	r := &c.server
	switch r.state {
	case stUntilClose:
		c.finish(r, ts)
	case stIdle, stResync, stOpaque:
	default:
		c.abort(r, ts, exchange.ErrTruncated)
	}
	r.state = stResync
}

// Close ends the connection: reset (RST) or the end of the capture. Requests still waiting
// are emitted with error "reset" or "truncated"; nothing is dropped silently.
func (c *Conn) Close(ts time.Time, reset bool) {
	if c.next != nil {
		c.next.Close(ts, reset)
		c.next = nil
		return
	}
	why := exchange.ErrTruncated
	if reset {
		why = exchange.ErrReset
	}
	if c.server.state == stUntilClose && !reset {
		c.finish(&c.server, ts)
	}
	if c.server.state != stIdle && c.server.state != stResync && c.server.state != stOpaque {
		c.abort(&c.server, ts, why)
	}
	for len(c.pending) > 0 {
		p := c.pop()
		c.fail(p, ts, why)
	}
	c.client.state, c.server.state = stOpaque, stOpaque
}

// Expire emits requests that have waited longer than timeout for a response, as "timeout".
func (c *Conn) Expire(now time.Time, timeout time.Duration) {
	for len(c.pending) > 0 {
		p := c.pending[0]
		if p.answered || !p.reqDone || now.Sub(p.ex.StartedAt) < timeout {
			return
		}
		c.pop()
		c.fail(p, now, exchange.ErrTimeout)
		// A late response would pair with the wrong request: wait for a fresh one.
		if c.server.state != stOpaque {
			c.server.state = stResync
		}
	}
}

func (c *Conn) pop() *pending {
	p := c.pending[0]
	copy(c.pending, c.pending[1:])
	c.pending[len(c.pending)-1] = nil
	c.pending = c.pending[:len(c.pending)-1]
	if p == c.cur {
		c.cur = nil
	}
	return p
}

func (c *Conn) fail(p *pending, ts time.Time, why string) {
	if p.ex.Error == nil {
		p.ex.Error = &why
	}
	p.ex.DurationMs = exchange.Millis(ts.Sub(p.ex.StartedAt))
	c.emit(p.ex)
}

// feed runs the state machine over p. packetStart says p begins a captured packet (where
// a resync may find a message start).
func (c *Conn) feed(r *reader, p []byte, ts time.Time, packetStart bool) {
	for len(p) > 0 {
		switch r.state {
		case stOpaque:
			return
		case stResync:
			if !packetStart {
				return
			}
			if r.request && !LooksLikeRequest(p) || !r.request && (!LooksLikeResponse(p) || len(c.pending) == 0) {
				return
			}
			r.state = stIdle
		case stHold:
			if len(c.held)+len(p) > maxHeld {
				c.held = nil
				r.state = stResync
				return
			}
			c.held = append(c.held, p...)
			return
		case stIdle:
			// Tolerate the stray CRLF some clients send between messages.
			for len(p) > 0 && (p[0] == '\r' || p[0] == '\n') {
				p = p[1:]
			}
			if len(p) == 0 {
				return
			}
			r.state = stHead
			r.buf = r.buf[:0]
			r.scanned = 0
			r.started = ts
		case stHead:
			n, done := c.accumulate(r, p, MaxHeaderBytes)
			p = p[n:]
			if r.state == stResync {
				return
			}
			if done {
				c.headDone(r, ts)
				if r.state == stIdle && !r.request {
					// a 1xx: the final response follows
					continue
				}
				if r.state == stOpaque && c.next != nil {
					if len(p) > 0 {
						c.next.FromServer(p, ts)
					}
					return
				}
			}
		case stBody:
			n := int64(len(p))
			if n > r.remaining {
				n = r.remaining
			}
			c.keep(r, p[:n])
			r.remaining -= n
			p = p[n:]
			r.last = ts
			if r.remaining == 0 {
				c.finish(r, ts)
			}
		case stUntilClose:
			c.keep(r, p)
			r.last = ts
			return
		case stChunkLine:
			n, done := c.accumulateLine(r, p)
			p = p[n:]
			if r.state == stResync || !done {
				continue
			}
			size, err := parseChunkSize(r.buf)
			if err != nil {
				c.broken(r, ts, err)
				return
			}
			r.buf = r.buf[:0]
			if size == 0 {
				r.state = stTrailer
				r.scanned = 0
			} else {
				r.remaining = size
				r.state = stChunkData
			}
		case stChunkData:
			n := int64(len(p))
			if n > r.remaining {
				n = r.remaining
			}
			c.keep(r, p[:n])
			r.remaining -= n
			p = p[n:]
			r.last = ts
			if r.remaining == 0 {
				r.state = stChunkEnd
				r.buf = r.buf[:0]
			}
		case stChunkEnd:
			n, done := c.accumulateLine(r, p)
			p = p[n:]
			if done {
				r.buf = r.buf[:0]
				r.state = stChunkLine
			}
		case stTrailer:
			// The trailer block ends with an empty line; with no trailers that is just CRLF.
			if blank := len(r.buf) == 0 || len(r.buf) == 1 && r.buf[0] == '\r'; blank {
				switch {
				case p[0] == '\n':
					p = p[1:]
					r.buf = r.buf[:0]
					r.last = ts
					c.finish(r, ts)
					continue
				case len(r.buf) == 0 && p[0] == '\r' && len(p) == 1:
					r.buf = append(r.buf, '\r')
					return
				case len(r.buf) == 0 && p[0] == '\r' && p[1] == '\n':
					p = p[2:]
					r.last = ts
					c.finish(r, ts)
					continue
				}
			}
			n, done := c.accumulate(r, p, MaxHeaderBytes)
			p = p[n:]
			if r.state == stResync {
				return
			}
			if done {
				r.trailers = trailerHeaders(r.buf)
				r.last = ts
				c.finish(r, ts)
			}
		}
		packetStart = false
	}
}

// accumulate appends p to r.buf until a header block ends; it returns the bytes used.
func (c *Conn) accumulate(r *reader, p []byte, max int) (int, bool) {
	from := len(r.buf) - 3
	r.buf = append(r.buf, p...)
	end := headerEnd(r.buf, from)
	if end < 0 {
		if len(r.buf) > max {
			c.broken(r, time.Time{}, errHeaderTooBig)
		}
		return len(p), false
	}
	used := end - (len(r.buf) - len(p))
	r.buf = r.buf[:end]
	return used, true
}

// accumulateLine appends up to a LF (a chunk-size line or the CRLF after chunk data).
func (c *Conn) accumulateLine(r *reader, p []byte) (int, bool) {
	for i, b := range p {
		if b == '\n' {
			r.buf = append(r.buf, p[:i]...)
			if n := len(r.buf); n > 0 && r.buf[n-1] == '\r' {
				r.buf = r.buf[:n-1]
			}
			return i + 1, true
		}
	}
	r.buf = append(r.buf, p...)
	if len(r.buf) > 4096 {
		c.broken(r, time.Time{}, errBadChunk)
	}
	return len(p), false
}

func (c *Conn) keep(r *reader, p []byte) {
	r.size += int64(len(p))
	if room := c.opts.BodyCap - len(r.raw); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		r.raw = append(r.raw, p...)
	}
}

// broken handles malformed framing: the message is emitted as unparsed where one can be,
// and the direction waits for a fresh message.
func (c *Conn) broken(r *reader, ts time.Time, err error) {
	c.parseError(err)
	if ts.IsZero() {
		ts = r.last
		if ts.IsZero() {
			ts = r.started
		}
	}
	if r.state != stHead || !r.request {
		c.abort(r, ts, exchange.ErrUnparsed)
	}
	r.state = stResync
	r.buf = r.buf[:0]
}

// abort ends the message r is in with an error.
func (c *Conn) abort(r *reader, ts time.Time, why string) {
	if r.request {
		if c.cur != nil && !c.cur.reqDone && r.head != nil {
			c.cur.ex.Request.BodySize = r.size
			c.cur.ex.Request.Body = body.CaptureInto(&c.cur.reqBody, r.raw, r.size, r.head.encoding, r.head.ctype, c.opts.BodyCap, true)
			c.cur.reqDone = true
			if c.cur.ex.Error == nil {
				c.cur.ex.Error = &why
			}
		}
		c.reset(r)
		return
	}
	if r.head != nil && len(c.pending) > 0 && r.state != stHead {
		p := c.pop()
		p.ex.Response = c.response(r, true, p)
		c.fail(p, ts, why)
	}
	c.reset(r)
}

func (c *Conn) reset(r *reader) {
	r.head = nil
	r.raw = r.raw[:0]
	r.size = 0
	r.missed = false
	r.trailers = nil
	r.remaining = 0
	r.state = stIdle
}

func (c *Conn) headDone(r *reader, ts time.Time) {
	h := &r.hd
	err := parseHead(r.buf, r.request, h)
	r.last = ts
	if errors.Is(err, errNotHTTP) {
		c.parseError(err)
		r.state = stResync
		return
	}
	r.head = h
	r.raw, r.size, r.missed, r.trailers = r.raw[:0], 0, false, nil
	if r.request {
		c.requestHead(r, h, err, ts)
	} else {
		c.responseHead(r, h, err, ts)
	}
}

func (c *Conn) requestHead(r *reader, h *head, err error, ts time.Time) {
	proto := exchange.ProtoHTTP11
	if h.minor == 0 {
		proto = exchange.ProtoHTTP10
	}
	rec := &record{}
	rec.ex = exchange.Exchange{
		Protocol:  proto,
		StartedAt: r.started,
		Request: exchange.Request{
			Method:    h.method,
			Path:      clip(h.target, exchange.MaxPathChars),
			Authority: clip(h.host, exchange.MaxAuthorityChars),
			Headers:   c.opts.Redactor.InPlace(h.headers),
		},
	}
	ex := &rec.ex
	p := &rec.p
	*p = pending{ex: ex, resp: &rec.resp, isHead: h.method == "HEAD", isConnect: h.method == "CONNECT", upgradeH2C: h.upgradeH2C}
	if len(c.pending) >= MaxPipelined {
		old := c.pop()
		c.parseError(errors.New("too many pipelined requests"))
		c.fail(old, ts, exchange.ErrTimeout)
	}
	c.pending = append(c.pending, p)
	c.cur = p
	if err != nil {
		c.parseError(err)
		why := exchange.ErrUnparsed
		ex.Error = &why
		p.reqDone = true
		r.state = stResync
		return
	}
	switch {
	case h.chunked:
		r.state = stChunkLine
		r.buf = r.buf[:0]
	case h.contentLength > 0:
		r.state = stBody
		r.remaining = h.contentLength
	default:
		c.finish(r, ts)
	}
}

func (c *Conn) responseHead(r *reader, h *head, err error, ts time.Time) {
	if len(c.pending) == 0 {
		c.parseError(errors.New("response without a request"))
		r.state = stResync
		return
	}
	p := c.pending[0]
	if err != nil {
		c.parseError(err)
		c.pop()
		p.ex.Response = c.response(r, false, p)
		c.fail(p, ts, exchange.ErrUnparsed)
		r.state = stResync
		return
	}
	switch {
	case h.status == 101:
		c.switchProtocols(r, p, ts)
		return
	case h.status < 200:
		// 100 Continue, 103 Early Hints: informational, the final response follows.
		r.head = nil
		r.state = stIdle
		return
	}
	p.answered = true
	switch {
	case p.isHead || h.status == 204 || h.status == 304:
		c.finish(r, ts)
	case p.isConnect && h.status < 300:
		c.finish(r, ts)
		c.client.state, c.server.state = stOpaque, stOpaque
	case h.chunked:
		r.state = stChunkLine
		r.buf = r.buf[:0]
	case h.contentLength >= 0:
		if h.contentLength == 0 {
			c.finish(r, ts)
			return
		}
		r.state = stBody
		r.remaining = h.contentLength
	default:
		r.state = stUntilClose
	}
}

func (c *Conn) switchProtocols(r *reader, p *pending, ts time.Time) {
	c.pop()
	if p.upgradeH2C && c.opts.H2C != nil {
		// The h2 dissector reports the upgrade request as its stream 1.
		c.next = c.opts.H2C(p.ex.Request, p.ex.StartedAt)
		held := c.held
		c.held = nil
		c.client.state, c.server.state = stOpaque, stOpaque
		if len(held) > 0 {
			c.next.FromClient(held, ts)
		}
		return
	}
	p.ex.Response = c.response(r, false, p)
	p.ex.DurationMs = exchange.Millis(ts.Sub(p.ex.StartedAt))
	c.emit(p.ex)
	c.client.state, c.server.state = stOpaque, stOpaque
}

// finish completes the message r is in.
func (c *Conn) finish(r *reader, ts time.Time) {
	if r.request {
		if p := c.cur; p != nil {
			p.ex.Request.BodySize = r.size
			p.ex.Request.Body = body.CaptureInto(&p.reqBody, r.raw, r.size, r.head.encoding, r.head.ctype, c.opts.BodyCap, r.missed)
			p.reqDone = true
			if p.upgradeH2C && !p.answered && c.opts.H2C != nil && c.next == nil {
				c.reset(r)
				r.state = stHold
				return
			}
		}
		c.reset(r)
		return
	}
	if len(c.pending) == 0 {
		c.reset(r)
		return
	}
	p := c.pop()
	p.ex.Response = c.response(r, false, p)
	p.ex.DurationMs = exchange.Millis(r.last.Sub(p.ex.StartedAt))
	if p.upgradeH2C && c.client.state == stHold {
		// The server declined the upgrade: what the client sent meanwhile is HTTP/1 again.
		held := c.held
		c.held = nil
		c.client.state = stIdle
		c.emit(p.ex)
		c.reset(r)
		if len(held) > 0 {
			c.feed(&c.client, held, ts, true)
		}
		return
	}
	c.emit(p.ex)
	c.reset(r)
}

func (c *Conn) response(r *reader, cut bool, p *pending) *exchange.Response {
	h, resp := r.head, p.resp
	*resp = exchange.Response{
		Status:   h.status,
		Headers:  c.opts.Redactor.InPlace(h.headers),
		Trailers: c.opts.Redactor.InPlace(r.trailers),
		BodySize: r.size,
	}
	resp.Body = body.CaptureInto(&p.respBody, r.raw, r.size, h.encoding, h.ctype, c.opts.BodyCap, r.missed || cut)
	return resp
}

func trailerHeaders(block []byte) []exchange.Header {
	var out []exchange.Header
	for len(block) > 0 {
		var line []byte
		line, block = cutLine(block)
		name, value, ok := cutColon(line)
		if ok && len(out) < exchange.MaxHeaders {
			out = append(out, exchange.Header{clip(name, exchange.MaxHeaderNameChars), clip(value, exchange.MaxHeaderValueChars)})
		}
	}
	return out
}

func cutColon(line []byte) (string, string, bool) {
	for i, b := range line {
		if b == ':' {
			if i == 0 {
				return "", "", false
			}
			return string(trimSpace(line[:i])), string(trimSpace(line[i+1:])), true
		}
	}
	return "", "", false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
