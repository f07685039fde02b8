// Package engine turns captured frames into exchanges and flows: it decodes each frame to
// its TCP segment, reassembles every connection, decides what the connection speaks
// (HTTP/1, HTTP/2 with prior knowledge, or something else) and hands the bytes to that
// dissector. The same engine serves live capture and capture files.
package engine

import (
	"errors"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/h2"
	"github.com/spider-backstage/spider/whisperer/internal/http1"
	"github.com/spider-backstage/spider/whisperer/internal/reassembly"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
)

// Config of an engine; zero values take the defaults.
type Config struct {
	BodyCap  int
	Redactor *redact.Redactor
	// ResponseTimeout: a request with no response by then is reported as "timeout".
	ResponseTimeout time.Duration
	// IdleTimeout: a connection with no packet for that long is forgotten.
	IdleTimeout time.Duration
	// MaxConns bounds the connection table.
	MaxConns int
	// Local says whether an address is the pod's own (direction); nil: the server is.
	Local func(netip.Addr) bool
	// MaxFlowKeys bounds the flow table (peer pairs × minutes held).
	MaxFlowKeys int
}

// Counters the engine keeps (read them between calls, from the same goroutine).
type Counters struct {
	Packets     int64
	Bytes       int64
	ParseErrors int64
}

// Engine is single-threaded: one goroutine feeds it packets.
type Engine struct {
	cfg      Config
	emit     func(*exchange.Exchange)
	dec      *decoder
	seg      segment
	conns    map[connKey]*conn
	flows    flowTable
	Counters Counters
	lastTick time.Time
	ips      map[[16]byte]string
}

// New returns an engine that calls emit for every exchange (identity fields other than
// client, server and direction are the caller's to fill).
func New(cfg Config, emit func(*exchange.Exchange)) *Engine {
	if cfg.BodyCap < 0 {
		cfg.BodyCap = 0
	}
	if cfg.Redactor == nil {
		cfg.Redactor = redact.New(nil)
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 60 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16384
	}
	if cfg.MaxFlowKeys <= 0 {
		cfg.MaxFlowKeys = 4096
	}
	return &Engine{cfg: cfg, emit: emit, dec: newDecoder(), conns: map[connKey]*conn{},
		flows: flowTable{max: cfg.MaxFlowKeys, m: map[flowKey]*exchange.Flow{}}, ips: map[[16]byte]string{}}
}

// Conns is the number of connections tracked.
func (e *Engine) Conns() int { return len(e.conns) }

type connKey struct {
	a, b   [16]byte
	ap, bp uint16
}

type kind uint8

const (
	kUnknown kind = iota
	kHTTP1
	kH2
	kFlow
	kIgnored
)

// maxSniffPackets: a connection joined mid-stream gets that many data packets to show a
// message start before it counts as a flow.
const maxSniffPackets = 8

type conn struct {
	e         *Engine
	key       connKey
	halves    [2]reassembly.Half // [0] from a, [1] from b
	dirKnown  bool
	clientIsA bool
	synSeen   bool
	fin       [2]bool
	kind      kind
	sniffed   int
	h1        *http1.Conn
	h2        *h2.Conn
	client    exchange.Endpoint
	server    exchange.Endpoint
	direction string
	lastSeen  time.Time
	flow      *exchange.Flow
	flowMin   int64
	counted   bool
	early     []byte // what the server said before the client's first bytes (h2 SETTINGS)
	earlyTs   time.Time
}

// maxEarly bounds the server bytes held until the client speaks.
const maxEarly = 4096

// Packet takes one captured frame.
func (e *Engine) Packet(lt layers.LinkType, data []byte, ts time.Time) {
	e.Counters.Packets++
	e.Counters.Bytes += int64(len(data))
	s := &e.seg
	if !e.dec.decode(lt, data, s) {
		return
	}
	key, fromA := makeKey(s)
	c := e.conns[key]
	if c != nil && s.syn && !s.ackf && (c.kind != kUnknown || c.fin[0] || c.fin[1]) {
		// A new connection on the same ports: finish the old one.
		e.closeConn(c, ts, false)
		c = nil
	}
	if c == nil {
		if s.rst || !s.syn && len(s.payload) == 0 {
			return // the tail of a connection already closed (ACK of a FIN), or a bare ACK
		}
		if len(e.conns) >= e.cfg.MaxConns {
			e.parseError(errConnTable)
			return
		}
		c = &conn{e: e, key: key}
		c.halves[0].Client, c.halves[1].Client = true, false // "Client" here means "from a"
		e.conns[key] = c
	}
	c.lastSeen = ts
	if s.syn {
		c.synSeen = true
		if !c.dirKnown {
			// SYN: the sender is the client; SYN-ACK: the sender is the server.
			c.setDirection(fromA == !s.ackf)
		}
	}
	h := &c.halves[side(fromA)]
	h.Add(s.seq, s.syn, s.payload, ts, reassembly.DefaultLimits, c)
	if s.ackf {
		c.halves[side(!fromA)].Acked(s.ack, ts, c)
	}
	if c.kind == kFlow && c.dirKnown {
		c.countFlow(fromA, len(s.payload), ts)
	}
	switch {
	case s.rst:
		e.closeConn(c, ts, true)
	case s.fin:
		i := side(fromA)
		if !c.fin[i] {
			c.fin[i] = true
			h.Flush(ts, c)
			if c.h1 != nil && c.dirKnown {
				c.h1.EndOfStream(fromA == c.clientIsA, ts)
			}
		}
		if c.fin[0] && c.fin[1] {
			e.closeConn(c, ts, false)
		}
	}
	if ts.Sub(e.lastTick) >= time.Second {
		e.Tick(ts)
	}
}

var errConnTable = errors.New("connection table full")

func side(fromA bool) int {
	if fromA {
		return 0
	}
	return 1
}

func makeKey(s *segment) (connKey, bool) {
	srcFirst := s.srcPort < s.dstPort || s.srcPort == s.dstPort && string(s.src[:]) <= string(s.dst[:])
	if srcFirst {
		return connKey{a: s.src, b: s.dst, ap: s.srcPort, bp: s.dstPort}, true
	}
	return connKey{a: s.dst, b: s.src, ap: s.dstPort, bp: s.srcPort}, false
}

func (e *Engine) ipString(a [16]byte) string {
	if s, ok := e.ips[a]; ok {
		return s
	}
	s := netip.AddrFrom16(a).Unmap().String()
	if len(e.ips) < 65536 {
		e.ips[a] = s
	}
	return s
}

func (c *conn) setDirection(clientIsA bool) {
	c.dirKnown, c.clientIsA = true, clientIsA
	ca, cp, sa, sp := c.key.a, c.key.ap, c.key.b, c.key.bp
	if !clientIsA {
		ca, cp, sa, sp = sa, sp, ca, cp
	}
	c.client = exchange.Endpoint{IP: c.e.ipString(ca), Port: int(cp)}
	c.server = exchange.Endpoint{IP: c.e.ipString(sa), Port: int(sp)}
	c.direction = exchange.Inbound
	if c.e.cfg.Local != nil && !c.e.cfg.Local(netip.AddrFrom16(sa).Unmap()) {
		c.direction = exchange.Outbound
	}
}

// Data implements reassembly.Receiver ("client" there means "from a").
func (c *conn) Data(fromA bool, p []byte, ts time.Time) {
	if c.kind == kUnknown {
		c.classify(fromA, p, ts)
		if c.kind == kUnknown {
			return
		}
		if early := c.early; early != nil {
			c.early = nil
			c.deliver(false, early, c.earlyTs)
		}
	}
	c.deliver(fromA == c.clientIsA, p, ts)
}

func (c *conn) deliver(client bool, p []byte, ts time.Time) {
	switch c.kind {
	case kHTTP1:
		if client {
			c.h1.FromClient(p, ts)
		} else {
			c.h1.FromServer(p, ts)
		}
	case kH2:
		if client {
			c.h2.FromClient(p, ts)
		} else {
			c.h2.FromServer(p, ts)
		}
	}
}

// Gap implements reassembly.Receiver.
func (c *conn) Gap(fromA bool, n int, ts time.Time) {
	switch c.kind {
	case kHTTP1:
		c.h1.Gap(fromA == c.clientIsA, n, ts)
	case kH2:
		// HPACK state is lost with the bytes: what is open ends here, and what follows is
		// followed as a connection joined mid-stream (a fresh table: insertions made in
		// the gap would shift every index of the old one).
		c.h2.Close(ts, false)
		c.h2 = h2.NewMidStreamConn(c.h2Options(), c.emitter)
	}
}

func (c *conn) classify(fromA bool, p []byte, ts time.Time) {
	if !c.dirKnown {
		switch {
		case h2.IsPreface(p) && len(p) >= 4, http1.LooksLikeRequest(p) && len(p) >= 4:
			c.setDirection(fromA)
		case http1.LooksLikeResponse(p) && len(p) >= 8:
			c.setDirection(!fromA)
		case !c.synSeen && c.midStreamH2(fromA, p):
			// HTTP/2 joined mid-stream: the sender is told by :method or :status.
		default:
			c.sniffed++
			if c.sniffed >= maxSniffPackets {
				// The well-known port is the server's, the ephemeral one the client's.
				c.setDirection(c.key.ap > c.key.bp)
				c.toFlow()
			}
			return
		}
	}
	client := fromA == c.clientIsA
	if !client && c.synSeen {
		// Servers may speak first (an h2 server's SETTINGS): hold it for the dissector
		// the client's first bytes will choose.
		if len(c.early)+len(p) <= maxEarly && c.sniffed < maxSniffPackets {
			if len(c.early) == 0 {
				c.earlyTs = ts
			}
			c.early = append(c.early, p...)
			c.sniffed++
			return
		}
		c.toFlow()
		return
	}
	switch {
	case client && h2.IsPreface(p):
		c.kind = kH2
		c.h2 = h2.NewConn(c.h2Options(), c.emitter)
	case client && http1.LooksLikeRequest(p):
		c.kind = kHTTP1
		c.h1 = http1.NewConn(http1.Options{
			BodyCap:      c.e.cfg.BodyCap,
			Redactor:     c.e.cfg.Redactor,
			OnParseError: c.e.parseError,
			H2C: func(req exchange.Request, startedAt time.Time) http1.Stream {
				return h2.NewUpgradedConn(c.h2Options(), c.emitter, req, startedAt)
			},
		}, c.emitter)
	case !c.synSeen && h2.LooksLikeFrames(p):
		// HTTP/2 opened before the capture: resynchronised on this packet's frames.
		c.kind = kH2
		c.h2 = h2.NewMidStreamConn(c.h2Options(), c.emitter)
	case !c.synSeen && c.sniffed < maxSniffPackets:
		// Joined mid-stream: wait for a packet that starts a request.
		c.sniffed++
	default:
		c.toFlow()
	}
}

// midStreamH2 sets the direction of a connection joined mid-stream when p is HTTP/2
// frames whose header block says who sent them.
func (c *conn) midStreamH2(fromA bool, p []byte) bool {
	if !h2.LooksLikeFrames(p) {
		return false
	}
	client, ok := h2.MidStreamSender(p)
	if ok {
		c.setDirection(fromA == client)
	}
	return ok
}

func (c *conn) h2Options() h2.Options {
	return h2.Options{BodyCap: c.e.cfg.BodyCap, Redactor: c.e.cfg.Redactor, OnParseError: c.e.parseError}
}

func (c *conn) toFlow() {
	c.kind = kFlow
	if len(c.early) > 0 && c.dirKnown {
		c.countFlow(!c.clientIsA, len(c.early), c.earlyTs)
	}
	c.early = nil
}

func (c *conn) emitter(x *exchange.Exchange) {
	x.Client, x.Server, x.Direction = c.client, c.server, c.direction
	c.e.emit(x)
}

func (e *Engine) parseError(error) { e.Counters.ParseErrors++ }

func (e *Engine) closeConn(c *conn, ts time.Time, reset bool) {
	c.halves[0].Flush(ts, c)
	c.halves[1].Flush(ts, c)
	switch {
	case c.h1 != nil:
		c.h1.Close(ts, reset)
	case c.h2 != nil:
		c.h2.Close(ts, reset)
	}
	if c.kind == kFlow && c.dirKnown && !c.counted {
		c.countFlow(true, 0, ts)
	}
	c.kind = kIgnored
	delete(e.conns, c.key)
}

// Tick expires requests waiting too long and forgets idle connections; Packet calls it
// once a second of packet time, a live capture also on a timer.
func (e *Engine) Tick(now time.Time) {
	e.lastTick = now
	for _, c := range e.conns {
		if now.Sub(c.lastSeen) >= e.cfg.IdleTimeout {
			e.closeConn(c, now, false)
			continue
		}
		if c.h1 != nil {
			c.h1.Expire(now, e.cfg.ResponseTimeout)
		}
	}
}

// Close ends every connection (end of file, end of capture): what is still waiting is
// reported as truncated.
func (e *Engine) Close(now time.Time) {
	for _, c := range e.conns {
		e.closeConn(c, now, false)
	}
}
