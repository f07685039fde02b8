package engine

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)

// peer is one end of a synthesized connection; it numbers its own bytes.
type peer struct {
	ip   string
	port uint16
	seq  uint32
}

type pkt struct {
	from, to *peer
	syn, ack bool
	fin, rst bool
	data     string
	at       time.Duration
	seq      *uint32 // explicit sequence number (reordering)
}

func frame(t testing.TB, p pkt) []byte {
	src, dst := net.ParseIP(p.from.ip), net.ParseIP(p.to.ip)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(p.from.port), DstPort: layers.TCPPort(p.to.port), Seq: p.from.seq, Ack: p.to.seq,
		SYN: p.syn, ACK: p.ack, FIN: p.fin, RST: p.rst, Window: 65535}
	if p.seq != nil {
		tcp.Seq = *p.seq
	}
	var ip gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	if v4 := src.To4(); v4 != nil {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: v4, DstIP: dst.To4()}
		tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		tcp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(p.data)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// play sends the packets through an engine; sequence numbers advance as a real stack's.
func play(t testing.TB, e *Engine, pkts []pkt) {
	for _, p := range pkts {
		e.Packet(layers.LinkTypeEthernet, frame(t, p), t0.Add(p.at))
		if p.seq == nil {
			p.from.seq += uint32(len(p.data))
			if p.syn || p.fin {
				p.from.seq++
			}
		}
	}
}

func handshake(c, s *peer) []pkt {
	return []pkt{{from: c, to: s, syn: true}, {from: s, to: c, syn: true, ack: true}, {from: c, to: s, ack: true}}
}

func seqp(v uint32) *uint32 { return &v }

func collect(cfg Config) (*Engine, *[]*exchange.Exchange) {
	var out []*exchange.Exchange
	return New(cfg, func(x *exchange.Exchange) { out = append(out, x) }), &out
}

const req = "GET /x HTTP/1.1\r\nHost: web\r\n\r\n"
const resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

func TestEngine(t *testing.T) {
	type result struct {
		exchanges []string // "method path status error direction client>server"
		flows     []string
		conns     int
	}
	describe := func(x *exchange.Exchange) string {
		status, errs := 0, ""
		if x.Response != nil {
			status = x.Response.Status
		}
		if x.Error != nil {
			errs = *x.Error
		}
		return fmt.Sprintf("%s %s %d %s %s %s:%d>%s:%d %.0f", x.Request.Method, x.Request.Path, status, errs, x.Direction,
			x.Client.IP, x.Client.Port, x.Server.IP, x.Server.Port, x.DurationMs)
	}
	cases := []struct {
		name  string
		cfg   Config
		pkts  func(c, s *peer) []pkt
		tick  time.Duration // Tick at t0+tick after the packets
		close bool
		want  result
	}{
		{name: "HTTP/1 after a handshake", pkts: func(c, s *peer) []pkt {
			return append(handshake(c, s), pkt{from: c, to: s, ack: true, data: req, at: 10 * time.Millisecond},
				pkt{from: s, to: c, ack: true, data: resp, at: 25 * time.Millisecond})
		}, want: result{exchanges: []string{"GET /x 200  inbound 10.0.0.2:40000>10.0.0.1:80 15"}, conns: 1}},
		{name: "outbound when the server is not the pod", cfg: Config{Local: func(a netip.Addr) bool { return a.String() == "10.0.0.2" }},
			pkts: func(c, s *peer) []pkt {
				return append(handshake(c, s), pkt{from: c, to: s, ack: true, data: req}, pkt{from: s, to: c, ack: true, data: resp})
			}, want: result{exchanges: []string{"GET /x 200  outbound 10.0.0.2:40000>10.0.0.1:80 0"}, conns: 1}},
		{name: "segments out of order", pkts: func(c, s *peer) []pkt {
			hs := handshake(c, s)
			base := c.seq + 1
			return append(hs,
				pkt{from: c, to: s, ack: true, data: req[10:], seq: seqp(base + 10)},
				pkt{from: c, to: s, ack: true, data: req[:10], seq: seqp(base)},
				pkt{from: s, to: c, ack: true, data: resp, at: time.Millisecond})
		}, want: result{exchanges: []string{"GET /x 200  inbound 10.0.0.2:40000>10.0.0.1:80 1"}, conns: 1}},
		{name: "joined mid-connection: waits for a request start", pkts: func(c, s *peer) []pkt {
			return []pkt{{from: s, to: c, ack: true, data: "tail of an earlier body"}, {from: c, to: s, ack: true, data: req},
				{from: s, to: c, ack: true, data: resp}}
		}, want: result{exchanges: []string{"GET /x 200  inbound 10.0.0.2:40000>10.0.0.1:80 0"}, conns: 1}},
		{name: "reset before the response", pkts: func(c, s *peer) []pkt {
			return append(handshake(c, s), pkt{from: c, to: s, ack: true, data: req}, pkt{from: s, to: c, rst: true, at: 5 * time.Millisecond})
		}, want: result{exchanges: []string{"GET /x 0 reset inbound 10.0.0.2:40000>10.0.0.1:80 5"}, conns: 0}},
		{name: "no response by the timeout", cfg: Config{ResponseTimeout: 10 * time.Second}, tick: 11 * time.Second,
			pkts: func(c, s *peer) []pkt { return append(handshake(c, s), pkt{from: c, to: s, ack: true, data: req}) },
			want: result{exchanges: []string{"GET /x 0 timeout inbound 10.0.0.2:40000>10.0.0.1:80 11000"}, conns: 1}},
		{name: "FIN both ways closes the connection", pkts: func(c, s *peer) []pkt {
			return append(handshake(c, s), pkt{from: c, to: s, ack: true, data: req}, pkt{from: s, to: c, ack: true, data: resp},
				pkt{from: c, to: s, ack: true, fin: true}, pkt{from: s, to: c, ack: true, fin: true}, pkt{from: c, to: s, ack: true})
		}, want: result{exchanges: []string{"GET /x 200  inbound 10.0.0.2:40000>10.0.0.1:80 0"}, conns: 0}},
		{name: "not HTTP is a flow", close: true, pkts: func(c, s *peer) []pkt {
			return append(handshake(c, s), pkt{from: c, to: s, ack: true, data: "\x00\x01binary"}, pkt{from: s, to: c, ack: true, data: "pong"})
		}, want: result{flows: []string{"2026-12-01T10:00:00Z inbound 10.0.0.2>10.0.0.1:80 8/4 1"}}},
		{name: "server speaks first and never HTTP: a flow", close: true, pkts: func(c, s *peer) []pkt {
			hs := handshake(c, s)
			for i := 0; i < maxSniffPackets+1; i++ {
				hs = append(hs, pkt{from: s, to: c, ack: true, data: "220 smtp"})
			}
			return hs
		}, want: result{flows: []string{"2026-12-01T10:00:00Z inbound 10.0.0.2>10.0.0.1:80 0/72 1"}}},
		{name: "IPv6", pkts: func(c, s *peer) []pkt {
			c.ip, s.ip = "fd00::2", "fd00::1"
			return append(handshake(c, s), pkt{from: c, to: s, ack: true, data: req}, pkt{from: s, to: c, ack: true, data: resp})
		}, want: result{exchanges: []string{"GET /x 200  inbound fd00::2:40000>fd00::1:80 0"}, conns: 1}},
		{name: "bare ACKs of unknown connections are not tracked", pkts: func(c, s *peer) []pkt {
			return []pkt{{from: c, to: s, ack: true}, {from: s, to: c, ack: true, fin: true}}
		}, want: result{conns: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, out := collect(tc.cfg)
			c, s := &peer{ip: "10.0.0.2", port: 40000, seq: 1000}, &peer{ip: "10.0.0.1", port: 80, seq: 5000}
			play(t, e, tc.pkts(c, s))
			if tc.tick > 0 {
				e.Tick(t0.Add(tc.tick))
			}
			conns := e.Conns()
			if tc.close {
				e.Close(t0.Add(time.Second))
			}
			var got result
			for _, x := range *out {
				got.exchanges = append(got.exchanges, describe(x))
			}
			for _, f := range e.TakeFlows(time.Time{}) {
				got.flows = append(got.flows, fmt.Sprintf("%s %s %s>%s:%d %d/%d %d", f.Minute.Format(time.RFC3339), f.Direction,
					f.Client.IP, f.Server.IP, f.Server.Port, f.BytesToServer, f.BytesToClient, f.Connections))
			}
			got.conns = conns
			if tc.close {
				got.conns = 0
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUnsupportedFramesIgnored(t *testing.T) {
	e, out := collect(Config{})
	e.Packet(layers.LinkTypeEthernet, []byte{1, 2, 3}, t0)
	e.Packet(layers.LinkType(147), make([]byte, 100), t0)
	if len(*out) != 0 || e.Conns() != 0 || e.Counters.Packets != 2 {
		t.Fatalf("%+v", e.Counters)
	}
}

func FuzzEngine(f *testing.F) {
	f.Add([]byte(req), []byte(resp), uint8(0))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"), []byte("\x00\x00\x00\x04\x00\x00\x00\x00\x00"), uint8(3))
	f.Fuzz(func(t *testing.T, client, server []byte, mode uint8) {
		e, out := collect(Config{BodyCap: 32})
		c, s := &peer{ip: "10.0.0.2", port: 40000, seq: 1000}, &peer{ip: "10.0.0.1", port: 80, seq: 5000}
		var pkts []pkt
		if mode&1 == 0 {
			pkts = handshake(c, s)
		}
		n := int(mode>>4) + 1
		for i, j := 0, 0; i < len(client) || j < len(server); i, j = i+n, j+n {
			if i < len(client) {
				pkts = append(pkts, pkt{from: c, to: s, ack: true, data: string(client[i:min(i+n, len(client))])})
			}
			if j < len(server) {
				pkts = append(pkts, pkt{from: s, to: c, ack: true, data: string(server[j:min(j+n, len(server))])})
			}
		}
		if mode&2 != 0 {
			pkts = append(pkts, pkt{from: s, to: c, rst: true})
		}
		play(t, e, pkts)
		e.Close(t0.Add(time.Minute))
		for _, x := range *out {
			if x.Request.Headers == nil || x.Client.IP == "" || x.Direction == "" {
				t.Fatalf("bad exchange %+v", x)
			}
			_ = exchange.AppendJSON(nil, x)
		}
		if e.Conns() != 0 {
			t.Fatal("connections left after Close")
		}
	})
}
