package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

var fuzzLinkTypes = []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeRaw, 12}

// cooked re-frames an Ethernet frame behind a Linux cooked header (v1 or v2).
func cooked(eth []byte, v2 bool) []byte {
	proto, ip := eth[12:14], eth[14:]
	if v2 {
		h := make([]byte, 20)
		copy(h[0:2], proto)
		binary.BigEndian.PutUint32(h[4:8], 2)
		binary.BigEndian.PutUint16(h[8:10], 1) // ARPHRD_ETHER
		h[11] = 6
		return append(h, ip...)
	}
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[2:4], 1)
	binary.BigEndian.PutUint16(h[4:6], 6)
	copy(h[14:16], proto)
	return append(h, ip...)
}

// FuzzDecode holds the fast decoder to gopacket's layers: whatever it takes, it must
// accept or refuse as they do, with the same segment.
func FuzzDecode(f *testing.F) {
	c, s := &peer{ip: "10.0.0.2", port: 40000, seq: 1000}, &peer{ip: "10.0.0.1", port: 80, seq: 5000}
	for _, p := range []pkt{{from: c, to: s, syn: true}, {from: s, to: c, ack: true, data: "HTTP/1.1 200 OK\r\n\r\n"},
		{from: c, to: s, ack: true, fin: true, rst: true, data: "x"}} {
		eth := frame(f, p)
		f.Add(eth, uint8(0))
		f.Add(cooked(eth, false), uint8(1))
		f.Add(cooked(eth, true), uint8(2))
		f.Add(eth[14:], uint8(3))
		f.Add(eth[14:], uint8(5))
	}
	v6 := &peer{ip: "fd00::1", port: 80}
	f.Add(frame(f, pkt{from: &peer{ip: "fd00::2", port: 4000}, to: v6, ack: true, data: "GET"})[14:], uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		lt := fuzzLinkTypes[int(which)%len(fuzzLinkTypes)]
		var fast, slow segment
		ok, handled := fastDecode(lt, data, &fast)
		if !handled {
			return
		}
		d := newDecoder()
		want := d.decodeLayers(lt, data, &slow)
		if ok != want {
			t.Fatalf("link %v %x: fast %v, layers %v", lt, data, ok, want)
		}
		if ok && (!bytes.Equal(fast.payload, slow.payload) || fmt.Sprint(withoutPayload(fast)) != fmt.Sprint(withoutPayload(slow))) {
			t.Fatalf("link %v %x:\n fast   %+v\n layers %+v", lt, data, fast, slow)
		}
	})
}

func withoutPayload(s segment) segment {
	s.payload = nil
	return s
}

func TestFastDecodeTakesTheCommonFrames(t *testing.T) {
	c, s := &peer{ip: "10.0.0.2", port: 40000, seq: 1000}, &peer{ip: "10.0.0.1", port: 80, seq: 5000}
	eth := frame(t, pkt{from: c, to: s, ack: true, data: "GET / HTTP/1.1\r\n\r\n"})
	for i, tc := range []struct {
		lt   layers.LinkType
		data []byte
	}{{layers.LinkTypeEthernet, eth}, {layers.LinkTypeLinuxSLL, cooked(eth, false)}, {layers.LinkTypeLinuxSLL2, cooked(eth, true)}, {layers.LinkTypeRaw, eth[14:]}} {
		var seg segment
		ok, handled := fastDecode(tc.lt, tc.data, &seg)
		if !ok || !handled || string(seg.payload) != "GET / HTTP/1.1\r\n\r\n" || seg.srcPort != 40000 || seg.seq != 1000 || !seg.ackf {
			t.Fatalf("%d: ok %v handled %v %+v", i, ok, handled, seg)
		}
	}
}
