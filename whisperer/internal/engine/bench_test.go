package engine

import (
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// nginx's answer to wrk in bench:whisperer, byte for byte (date and etag aside).
const benchReq = "GET /index.html HTTP/1.1\r\nHost: 10.198.215.1:8080\r\n\r\n"
const benchResp = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 20:31:29 GMT\r\n" +
	"Content-Type: text/html\r\nContent-Length: 17\r\nLast-Modified: Tue, 01 Dec 2026 20:31:11 GMT\r\n" +
	"Connection: keep-alive\r\nETag: \"6b0f2e8f-11\"\r\nAccept-Ranges: bytes\r\n\r\nhello from nginx\n"

// BenchmarkKeepAlive is the live hot path per exchange: a request, its response and the
// client's ACK on one keep-alive connection, through decoding, reassembly, the HTTP/1
// dissector and the JSON encoding the whisperer does for every exchange it reports.
// Frames are built once; only their sequence numbers change (offset 38/42 in Ethernet +
// IPv4 + TCP), as a real connection's do.
func BenchmarkKeepAlive(b *testing.B) {
	var buf []byte
	n := 0
	e := New(Config{BodyCap: 16 << 10}, func(x *exchange.Exchange) {
		buf = exchange.AppendJSON(buf[:0], x)
		n++
	})
	c, s := &peer{ip: "10.198.215.2", port: 51894, seq: 1000}, &peer{ip: "10.198.215.1", port: 8080, seq: 5000}
	play(b, e, handshake(c, s))
	reqF := frame(b, pkt{from: c, to: s, ack: true, data: benchReq})
	respF := frame(b, pkt{from: s, to: c, ack: true, data: benchResp})
	ackF := frame(b, pkt{from: c, to: s, ack: true})
	const seqAt, ackAt = 14 + 20 + 4, 14 + 20 + 8
	cs, ss := c.seq, s.seq
	ts := t0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint32(reqF[seqAt:], cs)
		binary.BigEndian.PutUint32(reqF[ackAt:], ss)
		e.Packet(layers.LinkTypeEthernet, reqF, ts)
		cs += uint32(len(benchReq))
		binary.BigEndian.PutUint32(respF[seqAt:], ss)
		binary.BigEndian.PutUint32(respF[ackAt:], cs)
		e.Packet(layers.LinkTypeEthernet, respF, ts.Add(200*time.Microsecond))
		ss += uint32(len(benchResp))
		binary.BigEndian.PutUint32(ackF[seqAt:], cs)
		binary.BigEndian.PutUint32(ackF[ackAt:], ss)
		e.Packet(layers.LinkTypeEthernet, ackF, ts.Add(250*time.Microsecond))
		ts = ts.Add(time.Millisecond)
	}
	b.StopTimer()
	// ns/op is wall time, which a loaded machine inflates; the process's CPU time (GC
	// included) per exchange is what the live figure is made of.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if n != b.N {
		b.Fatalf("%d exchanges of %d", n, b.N)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
