package fastpath

import (
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// Real sockets: the fast path answers a taught name, relays an unknown one (to be
// learnt) and a malformed one (not), and answers nothing from the memo once the agent's
// generation moved on.
func TestServeAnswersTaughtNamesAndRelaysTheRest(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	memo := NewMemo(100)
	key, _ := NameKey("7.1.244.10.in-addr.arpa")
	rr := []byte{0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 5, 0, 3, 1, 'x', 0}
	memo.Teach(0, key, NewEntry(rr, nil, 0, nil, 0))
	type relayed struct {
		msg   string
		learn bool
	}
	var mu sync.Mutex
	var relays []relayed
	s := &Server{Memo: memo, Relay: func(msg []byte, _ *net.UDPAddr, learn bool) {
		mu.Lock()
		relays = append(relays, relayed{string(msg), learn})
		mu.Unlock()
	}}
	go func() { _ = s.Serve(ipv4.NewPacketConn(pc)) }()

	client, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ask := func(msg []byte) []byte {
		if _, err := client.WriteTo(msg, pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		_ = client.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 4096)
		n, _, err := client.ReadFrom(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	q := query(42, 0x0100, "7.1.244.10.IN-ADDR.arpa", typePTR, classIN, nil)
	reply := ask(q)
	if reply == nil || reply[0] != 0 || reply[1] != 42 || reply[7] != 1 {
		t.Fatalf("taught name: %x", reply)
	}
	unknown := query(43, 0, "8.1.244.10.in-addr.arpa", typePTR, classIN, nil)
	bad := []byte{1, 2, 3}
	if ask(unknown) != nil || ask(bad) != nil {
		t.Fatal("the fast path answered what it should relay")
	}
	memo.Invalidate(1)
	if ask(q) != nil {
		t.Fatal("answered from an outdated memo")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []relayed{{string(unknown), true}, {string(bad), false}, {string(q), false}}
	if len(relays) != len(want) {
		t.Fatalf("relays: %v", relays)
	}
	for i := range want {
		if relays[i] != want[i] {
			t.Fatalf("relay %d: %v, want %v", i, relays[i], want[i])
		}
	}
	if s.Counters.Local.Load() != 1 || s.Counters.Relayed.Load() != 3 {
		t.Fatalf("counters: local %d relayed %d", s.Counters.Local.Load(), s.Counters.Relayed.Load())
	}
}
