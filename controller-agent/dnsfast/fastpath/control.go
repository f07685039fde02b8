package fastpath

import (
	"encoding/binary"
	"errors"
	"strings"
)

// The agent and the fast path talk over a stream socket in frames: a u32 (big-endian)
// length of what follows, a type byte, the body. Integers are big-endian.
//
// fast path → agent:
//
//	'Y' ready:   u16 port (the UDP port bound)
//	'R' relay:   u8 learn, u8 n, n bytes client IP (text), u16 client port, the datagram
//	'C' counters: u64 queries, u64 local, u64 relayed, u64 errors, u64 dropped relays
//
// agent → fast path:
//
//	'S' send:    u8 n, n bytes client IP (text), u16 client port, the datagram
//	'E' entry:   u32 generation, name, entry
//	'F' refresh: u32 generation, u8 reset, u32 count, count × (name, entry)
//
// name: u16 n, n bytes of the dotted lower-case name (” is the root). entry: u8 present;
// when 1: u16 n + PTR records, u16 n + A records, u16 A count, u16 n + AAAA records,
// u16 AAAA count. The generation itself comes over its own descriptor (see Generations).
const (
	FrameReady    = 'Y'
	FrameRelay    = 'R'
	FrameCounters = 'C'
	FrameSend     = 'S'
	FrameEntry    = 'E'
	FrameRefresh  = 'F'
	// MaxFrameBytes bounds one frame (a refresh of many names is the largest).
	MaxFrameBytes = 64 << 20
)

var errShort = errors.New("frame cut short")

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errShort
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() int {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *reader) u16() int {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// NameKey is the memo key of a dotted lower-case name: its wire form. False when it is not
// a name the fast path could have asked about (an empty or over-long label, too long).
func NameKey(name string) (string, bool) {
	if name == "" {
		return "\x00", true
	}
	var b strings.Builder
	for _, l := range strings.Split(name, ".") {
		if len(l) == 0 || len(l) > maxLabelBytes {
			return "", false
		}
		b.WriteByte(byte(len(l)))
		b.WriteString(l)
	}
	b.WriteByte(0)
	if b.Len() > maxNameBytes {
		return "", false
	}
	return b.String(), true
}

func (r *reader) entry() *Entry {
	if r.u8() == 0 {
		return nil
	}
	ptr := clone(r.take(r.u16()))
	a := clone(r.take(r.u16()))
	ac := r.u16()
	aaaa := clone(r.take(r.u16()))
	aaaac := r.u16()
	return NewEntry(ptr, a, ac, aaaa, aaaac)
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func (r *reader) name() (string, error) {
	n := r.take(r.u16())
	if r.err != nil {
		return "", r.err
	}
	key, ok := NameKey(string(n))
	if !ok {
		return "", errors.New("bad name")
	}
	return key, nil
}

// Send is a datagram the agent asks the fast path to send to a client.
type Send struct {
	IP   string
	Port int
	Data []byte
}

// Control is one decoded agent → fast path frame (exactly one of the fields is set).
type Control struct {
	Send    *Send
	Entry   *Change
	Gen     uint32
	Refresh []Change
	Reset   bool
	IsFresh bool
}

// DecodeControl decodes one frame body (type byte first) from the agent. Data in the
// result aliases body.
func DecodeControl(body []byte) (Control, error) {
	var c Control
	if len(body) == 0 {
		return c, errShort
	}
	r := &reader{b: body[1:]}
	switch body[0] {
	case FrameSend:
		ip := string(r.take(r.u8()))
		port := r.u16()
		if r.err != nil {
			return c, r.err
		}
		c.Send = &Send{IP: ip, Port: port, Data: r.b}
		return c, nil
	case FrameEntry:
		c.Gen = r.u32()
		key, err := r.name()
		if err != nil {
			return c, err
		}
		e := r.entry()
		if r.err != nil {
			return c, r.err
		}
		c.Entry = &Change{Key: key, Entry: e}
	case FrameRefresh:
		c.Gen = r.u32()
		c.Reset = r.u8() != 0
		c.IsFresh = true
		n := int(r.u32())
		if n > len(r.b) { // each change takes at least 3 bytes: no huge allocation
			return c, errShort
		}
		c.Refresh = make([]Change, 0, n)
		for i := 0; i < n; i++ {
			key, err := r.name()
			if err != nil {
				return c, err
			}
			c.Refresh = append(c.Refresh, Change{Key: key, Entry: r.entry()})
		}
		if r.err != nil {
			return c, r.err
		}
	default:
		return c, errors.New("unknown frame type")
	}
	if len(r.b) != 0 {
		return c, errors.New("trailing bytes in frame")
	}
	return c, nil
}

// AppendRelay appends a relay frame (length prefix included).
func AppendRelay(dst []byte, learn bool, ip string, port int, msg []byte) []byte {
	l := byte(0)
	if learn {
		l = 1
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+1+1+len(ip)+2+len(msg)))
	dst = append(dst, FrameRelay, l, byte(len(ip)))
	dst = append(dst, ip...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(port))
	return append(dst, msg...)
}

// AppendCounters appends a counters frame.
func AppendCounters(dst []byte, vals ...uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+8*len(vals)))
	dst = append(dst, FrameCounters)
	for _, v := range vals {
		dst = binary.BigEndian.AppendUint64(dst, v)
	}
	return dst
}

// AppendReady appends the ready frame.
func AppendReady(dst []byte, port int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 3)
	dst = append(dst, FrameReady)
	return binary.BigEndian.AppendUint16(dst, uint16(port))
}
