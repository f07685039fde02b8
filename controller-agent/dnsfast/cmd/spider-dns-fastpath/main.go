// spider-dns-fastpath: the UDP fast path of the agent's DNS proxy (package fastpath).
// The agent starts it with its control socket as descriptor 3 and its generation
// descriptor as 4 (see fastpath/control.go); -hosts serves a hosts file alone (bench).
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spider-backstage/spider/controller-agent/dnsfast/fastpath"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:5353", "UDP address to serve (port 0: any free one)")
	sockets := flag.Int("sockets", 1, "SO_REUSEPORT sockets on the port, one goroutine each")
	maxMemo := flag.Int("max-memo", 100_000, "names remembered between directory changes")
	hosts := flag.String("hosts", "", "bench: serve PTR for the 'IP name' lines of this file, no agent")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("spider-dns-fastpath: ")
	// It shares the pod's memory budget with the agent, and answers without allocating
	// per query (so collections are rare): a heap goal of live + 25 % instead of Go's
	// + 100 %. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	if *sockets < 1 || *sockets > 64 {
		log.Fatal("-sockets must be 1..64")
	}
	memo := fastpath.NewMemo(*maxMemo)
	s := &fastpath.Server{Memo: memo}
	var agent *agentLink
	if *hosts != "" {
		loadHosts(memo, *hosts)
		s.Relay = func([]byte, *net.UDPAddr, bool) {}
	} else {
		gens, err := fastpath.NewGenerations(4, memo)
		if err != nil {
			log.Fatalf("generation descriptor 4: %v", err)
		}
		conn, err := net.FileConn(os.NewFile(3, "control"))
		if err != nil {
			log.Fatalf("control descriptor 3: %v", err)
		}
		agent = &agentLink{conn: conn, out: make(chan []byte, 4096)}
		s.BeforeAnswer = gens.Poll
		s.Relay = agent.relay
	}
	conns, port, err := listen(*addr, *sockets)
	if err != nil {
		log.Fatal(err)
	}
	for _, pc := range conns {
		go func() {
			var bc interface {
				ReadBatch([]ipv4.Message, int) (int, error)
				WriteBatch([]ipv4.Message, int) (int, error)
			}
			if pc.LocalAddr().(*net.UDPAddr).IP.To4() != nil {
				bc = ipv4.NewPacketConn(pc)
			} else {
				bc = ipv6.NewPacketConn(pc)
			}
			log.Fatalf("udp: %v", s.Serve(bc))
		}()
	}
	if agent == nil {
		fmt.Println("ready")
		select {}
	}
	go agent.write()
	agent.send(fastpath.AppendReady(nil, port))
	go agent.counters(&s.Counters)
	agent.read(memo, conns[0])
}

// listen binds n sockets on one port with SO_REUSEPORT (the kernel spreads clients over
// them); the first picks the port when addr's is 0.
func listen(addr string, n int) ([]net.PacketConn, int, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			// Absorbs bursts; the kernel may cap it.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		})
		return errors.Join(err, serr)
	}}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, err
	}
	var conns []net.PacketConn
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, 0, err
		}
		conns = append(conns, pc)
		addr = net.JoinHostPort(host, fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
	}
	return conns, conns[0].LocalAddr().(*net.UDPAddr).Port, nil
}

// agentLink is the control socket to the agent.
type agentLink struct {
	conn    net.Conn
	out     chan []byte
	dropped sync.Mutex
	lost    uint64
}

// relay queues a datagram for the agent; when the agent lags 4096 frames behind, the
// datagram is dropped (as the agent's own forwarder refuses beyond 4096 in flight).
func (a *agentLink) relay(msg []byte, addr *net.UDPAddr, learn bool) {
	ip := addr.IP.String()
	if v4 := addr.IP.To4(); v4 != nil {
		ip = v4.String()
	}
	frame := fastpath.AppendRelay(make([]byte, 0, 16+len(ip)+len(msg)), learn, ip, addr.Port, msg)
	select {
	case a.out <- frame:
	default:
		a.dropped.Lock()
		a.lost++
		a.dropped.Unlock()
	}
}

func (a *agentLink) send(frame []byte) { a.out <- frame }

// write coalesces queued frames into few writes.
func (a *agentLink) write() {
	var buf []byte
	for frame := range a.out {
		buf = append(buf[:0], frame...)
		for more := true; more && len(buf) < 256<<10; {
			select {
			case f := <-a.out:
				buf = append(buf, f...)
			default:
				more = false
			}
		}
		if _, err := a.conn.Write(buf); err != nil {
			os.Exit(0) // the agent is gone
		}
	}
}

// counters sends the counters when they changed, at most every 100 ms.
func (a *agentLink) counters(c *fastpath.Counters) {
	var last [5]uint64
	for range time.Tick(100 * time.Millisecond) {
		a.dropped.Lock()
		lost := a.lost
		a.dropped.Unlock()
		now := [5]uint64{c.Queries.Load(), c.Local.Load(), c.Relayed.Load(), c.Errors.Load(), lost}
		if now != last {
			last = now
			a.send(fastpath.AppendCounters(nil, now[:]...))
		}
	}
}

// read applies the agent's frames until it closes the socket (then exits: the agent owns
// this process and never leaves it behind).
func (a *agentLink) read(memo *fastpath.Memo, udp net.PacketConn) {
	r := bufio.NewReaderSize(a.conn, 64<<10)
	var head [4]byte
	var body []byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			os.Exit(0)
		}
		n := binary.BigEndian.Uint32(head[:])
		if n == 0 || n > fastpath.MaxFrameBytes {
			log.Fatalf("control: frame of %d bytes", n)
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			os.Exit(0)
		}
		c, err := fastpath.DecodeControl(body)
		if err != nil {
			log.Fatalf("control: %v", err)
		}
		switch {
		case c.Send != nil:
			ip := net.ParseIP(c.Send.IP)
			if ip != nil {
				// Per datagram errors (an unreachable client) are the client's problem.
				_, _ = udp.WriteTo(c.Send.Data, &net.UDPAddr{IP: ip, Port: c.Send.Port})
			}
		case c.Entry != nil:
			memo.Teach(c.Gen, c.Entry.Key, c.Entry.Entry)
		case c.IsFresh:
			memo.Refresh(c.Gen, c.Reset, c.Refresh)
		}
	}
}

func loadHosts(memo *fastpath.Memo, file string) {
	f, err := os.Open(file)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var changes []fastpath.Change
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) != 2 {
			continue
		}
		ip := net.ParseIP(parts[0]).To4()
		if ip == nil {
			continue
		}
		key, ok1 := fastpath.NameKey(fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]))
		rdata, ok2 := fastpath.NameKey(strings.ToLower(parts[1]))
		if !ok1 || !ok2 {
			continue
		}
		rr := []byte{0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 5, byte(len(rdata) >> 8), byte(len(rdata))}
		changes = append(changes, fastpath.Change{Key: key, Entry: fastpath.NewEntry(append(rr, rdata...), nil, 0, nil, 0)})
	}
	memo.Refresh(0, true, changes)
}
