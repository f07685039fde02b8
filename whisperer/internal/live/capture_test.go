package live

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/spider-backstage/spider/whisperer/internal/agent"
	"github.com/spider-backstage/spider/whisperer/internal/capture"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// ringSource plays frames as a TPACKET_V3 ring hands them over: what was captured waits
// there, and once it is read out, reads time out. onFirst runs at the first read (the
// stop arriving while the ring still holds packets).
type ringSource struct {
	frames  [][]byte
	ts      []time.Time
	next    int
	onFirst func()
}

func (s *ringSource) Next() ([]byte, time.Time, error) {
	if s.onFirst != nil {
		s.onFirst()
		s.onFirst = nil
	}
	if s.next == len(s.frames) {
		return nil, time.Time{}, capture.ErrTimeout
	}
	s.next++
	return s.frames[s.next-1], s.ts[s.next-1], nil
}
func (s *ringSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (s *ringSource) Drops() (int64, error)     { return 0, nil }

// tcpFrame is an Ethernet + IPv4 + TCP frame.
func tcpFrame(t *testing.T, src, dst string, sport, dport uint16, seq, ack uint32, syn bool, payload string) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack, SYN: syn, ACK: !syn || ack != 0, Window: 65535}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// keepAlive is n exchanges on one keep-alive connection, as frames stamped before now.
func keepAlive(t *testing.T, n int) ([][]byte, []time.Time) {
	const cli, srv = "10.9.0.2", "10.9.0.1"
	const req = "GET /k HTTP/1.1\r\nHost: x\r\n\r\n"
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
	cs, ss := uint32(1000), uint32(5000)
	frames := [][]byte{
		tcpFrame(t, cli, srv, 40000, 8080, cs, 0, true, ""),
		tcpFrame(t, srv, cli, 8080, 40000, ss, cs+1, true, ""),
		tcpFrame(t, cli, srv, 40000, 8080, cs+1, ss+1, false, ""),
	}
	cs, ss = cs+1, ss+1
	for i := 0; i < n; i++ {
		frames = append(frames, tcpFrame(t, cli, srv, 40000, 8080, cs, ss, false, req))
		cs += uint32(len(req))
		frames = append(frames, tcpFrame(t, srv, cli, 8080, 40000, ss, cs, false, resp))
		ss += uint32(len(resp))
		frames = append(frames, tcpFrame(t, cli, srv, 40000, 8080, cs, ss, false, ""))
	}
	start := time.Now().Add(-time.Second)
	ts := make([]time.Time, len(frames))
	for i := range ts {
		ts[i] = start.Add(time.Duration(i) * time.Microsecond)
	}
	return frames, ts
}

// A stop that arrives while the ring still holds captured packets: every exchange in them
// is reported; packets stamped after the stop are not read.
func TestCaptureDrainsTheRingAtStop(t *testing.T) {
	cases := []struct {
		name  string
		n     int // exchanges captured before the stop
		after int // exchanges stamped after it
	}{
		{name: "a few exchanges", n: 5},
		{name: "more than one check interval of packets", n: 400},
		{name: "packets after the stop are left", n: 50, after: 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &runner{env: Env{Instance: "spider-x"}, log: io.Discard, cfg: &agent.Config{}, settings: agent.DefaultSettings.Normalize(),
				started: time.Now(), stopCh: make(chan struct{}), kick: make(chan struct{}, 1)}
			r.refreshLocal()
			frames, ts := keepAlive(t, c.n+c.after)
			src := &ringSource{frames: frames, ts: ts, onFirst: func() { r.stop("detached") }}
			if c.after > 0 {
				// The stop falls between the last exchange before it and the first after.
				at := 3 + 3*c.n
				src.onFirst = func() {
					r.stop("detached")
					for i := at; i < len(ts); i++ {
						ts[i] = r.stopAt.Add(time.Millisecond)
					}
				}
			}
			exCh := make(chan []*exchange.Exchange, 1024)
			flowCh := make(chan []exchange.Flow, 16)
			r.capture(src, exCh, flowCh)
			close(exCh)
			got := 0
			for xs := range exCh {
				for _, x := range xs {
					if x.Response == nil || x.Response.Status != 200 {
						t.Fatalf("exchange without its response: %+v", x)
					}
					got++
				}
			}
			if got != c.n {
				t.Fatalf("%d exchanges reported, want the %d captured before the stop (read %d of %d frames)", got, c.n, src.next, len(frames))
			}
			if r.c.exchanges.Load() != int64(c.n) {
				t.Fatalf("stats.exchanges %d", r.c.exchanges.Load())
			}
		})
	}
}
