package fastpath

import (
	"encoding/binary"
	"testing"
)

func frameBody(t byte, parts ...[]byte) []byte {
	b := []byte{t}
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u16(n int) []byte     { return binary.BigEndian.AppendUint16(nil, uint16(n)) }
func u32b(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
func name(s string) []byte { return append(u16(len(s)), s...) }
func entry(ptr string) []byte {
	return append(append(append([]byte{1}, u16(len(ptr))...), ptr...), 0, 0, 0, 0, 0, 0, 0, 0)
}

func TestDecodeControl(t *testing.T) {
	c, err := DecodeControl(frameBody(FrameSend, []byte{9}, []byte("127.0.0.1"), u16(5353), []byte("dns")))
	if err != nil || c.Send.IP != "127.0.0.1" || c.Send.Port != 5353 || string(c.Send.Data) != "dns" {
		t.Fatalf("send: %+v %v", c.Send, err)
	}
	c, err = DecodeControl(frameBody(FrameEntry, u32b(7), name("a.b"), entry("pp")))
	key, _ := NameKey("a.b")
	if err != nil || c.Gen != 7 || c.Entry.Key != key || string(c.Entry.Entry.PTR) != "pp" {
		t.Fatalf("entry: %+v %v", c, err)
	}
	c, err = DecodeControl(frameBody(FrameRefresh, u32b(8), []byte{1}, u32b(2), name("a.b"), entry("x"), name(""), []byte{0}))
	if err != nil || !c.IsFresh || !c.Reset || len(c.Refresh) != 2 || c.Refresh[1].Entry != nil || c.Refresh[1].Key != "\x00" {
		t.Fatalf("refresh: %+v %v", c, err)
	}
	for what, body := range map[string][]byte{
		"empty":       nil,
		"unknown":     {'Z'},
		"cut entry":   frameBody(FrameEntry, u32b(7), name("a.b"), entry("pp")[:3]),
		"bad name":    frameBody(FrameEntry, u32b(7), name("a..b"), []byte{0}),
		"trailing":    frameBody(FrameEntry, u32b(7), name("a"), []byte{0, 0}),
		"huge count":  frameBody(FrameRefresh, u32b(8), []byte{0}, u32b(1<<30)),
		"cut refresh": frameBody(FrameRefresh, u32b(8), []byte{0}, u32b(2), name("a"), []byte{0}),
	} {
		if _, err := DecodeControl(body); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
}

// FuzzDecodeControl: no frame from the agent panics the fast path; a decoded entry's key
// is a valid wire name.
func FuzzDecodeControl(f *testing.F) {
	f.Add(frameBody(FrameSend, []byte{9}, []byte("127.0.0.1"), u16(53), []byte("x")))
	f.Add(frameBody(FrameEntry, u32b(1), name("9.1.244.10.in-addr.arpa"), entry("p")))
	f.Add(frameBody(FrameRefresh, u32b(2), []byte{0}, u32b(1), name("a"), []byte{0}))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := DecodeControl(body)
		if err != nil {
			return
		}
		changes := c.Refresh
		if c.Entry != nil {
			changes = append(changes, *c.Entry)
		}
		for _, ch := range changes {
			if len(ch.Key) == 0 || len(ch.Key) > maxNameBytes || ch.Key[len(ch.Key)-1] != 0 {
				t.Fatalf("bad key %q", ch.Key)
			}
		}
	})
}
