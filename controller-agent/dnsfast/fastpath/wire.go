// Package fastpath is the UDP fast path of the agent's DNS proxy: it answers the names
// the agent taught it from pre-encoded records, with batched receives and sends
// (recvmmsg/sendmmsg), and hands everything else to the agent unchanged.
package fastpath

import "encoding/binary"

const (
	headerBytes      = 12
	maxNameBytes     = 255
	maxLabelBytes    = 63
	udpClassicLimit  = 512
	ednsAdvertised   = 1232
	optBytes         = 11
	typeOPT          = 41
	typeA            = 1
	typePTR          = 12
	typeAAAA         = 28
	typeANY          = 255
	classIN          = 1
	flagQR           = 0x8000
	flagAA           = 0x0400
	flagTC           = 0x0200
	flagRD           = 0x0100
	flagRA           = 0x0080
	flagCD           = 0x0010
	opcodeMask       = 0x7800
	MaxQueryBytes    = 4096
	maxResponseBytes = 4096
)

// Query is what the fast path reads of a datagram it may answer itself.
type Query struct {
	ID    uint16
	Flags uint16
	// NameEnd is the offset just past the question name; msg[12:NameEnd] is the name in
	// wire form (the memo key, lower-cased by ParseQuery's caller via Key).
	NameEnd int
	QType   uint16
	// QuestionEnd is the offset just past the question (echoed in the answer).
	QuestionEnd int
	EDNS        bool
	// UDPSize is the requestor's EDNS payload size (at least 512), 0 without EDNS.
	UDPSize int
}

// ParseQuery accepts exactly the queries the agent's JS server would answer from an
// entry with NOERROR: a standard query (opcode 0), one question of class IN with an
// uncompressed name of printable ASCII labels, no answer or authority records, at most
// one additional record which is a well-formed EDNS 0 OPT, no trailing bytes. Anything
// else returns false and goes to the agent, whose parser decides (FORMERR, NOTIMP,
// BADVERS, drop, forward), so every error path stays the agent's.
//
// key receives the lower-cased wire-form name (the memo key); it must hold 255 bytes.
func ParseQuery(msg []byte, key []byte) (Query, []byte, bool) {
	var q Query
	if len(msg) < headerBytes || len(msg) > MaxQueryBytes {
		return q, nil, false
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	if flags&flagQR != 0 || flags&opcodeMask != 0 {
		return q, nil, false
	}
	if binary.BigEndian.Uint16(msg[4:]) != 1 || binary.BigEndian.Uint16(msg[6:]) != 0 ||
		binary.BigEndian.Uint16(msg[8:]) != 0 {
		return q, nil, false
	}
	arcount := binary.BigEndian.Uint16(msg[10:])
	if arcount > 1 {
		return q, nil, false
	}
	off := headerBytes
	key = key[:0]
	for {
		if off >= len(msg) {
			return q, nil, false
		}
		l := int(msg[off])
		if l == 0 {
			break
		}
		if l > maxLabelBytes || off+1+l > len(msg) || off+1+l-headerBytes+1 > maxNameBytes {
			return q, nil, false
		}
		key = append(key, byte(l))
		for _, c := range msg[off+1 : off+1+l] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A' // ASCII case folding only (RFC 4343)
			} else if c <= 0x20 || c >= 0x7f || c == '.' || c == '\\' {
				return q, nil, false // the agent escapes these; not a name it serves
			}
			key = append(key, c)
		}
		off += 1 + l
	}
	key = append(key, 0)
	q.NameEnd = off + 1
	off++
	if off+4 > len(msg) {
		return q, nil, false
	}
	q.QType = binary.BigEndian.Uint16(msg[off:])
	if binary.BigEndian.Uint16(msg[off+2:]) != classIN {
		return q, nil, false
	}
	off += 4
	q.QuestionEnd = off
	if arcount == 1 {
		// The OPT record: root owner, type 41, version 0, its rdata exactly to the end.
		if off+11 > len(msg) || msg[off] != 0 || binary.BigEndian.Uint16(msg[off+1:]) != typeOPT {
			return q, nil, false
		}
		if msg[off+6] != 0 { // EDNS version above 0: BADVERS, the agent's
			return q, nil, false
		}
		rdlen := int(binary.BigEndian.Uint16(msg[off+9:]))
		if off+11+rdlen != len(msg) {
			return q, nil, false
		}
		q.EDNS = true
		q.UDPSize = max(udpClassicLimit, int(binary.BigEndian.Uint16(msg[off+3:])))
	} else if off != len(msg) {
		return q, nil, false
	}
	q.ID = binary.BigEndian.Uint16(msg)
	q.Flags = flags
	return q, key, true
}

// AppendResponse appends to dst the response to q (parsed from msg) carrying the given
// answer records (count of them; none: NODATA), byte for byte what the agent's
// buildResponse writes: the question echoed as received, AA, RD and CD echoed, RA, the
// agent's OPT when the query had one, and TC without answers when it would not fit the
// client's limit.
func AppendResponse(dst, msg []byte, q *Query, records []byte, count int) []byte {
	limit := udpClassicLimit
	ob := 0
	if q.EDNS {
		limit = min(q.UDPSize, 65535)
		ob = optBytes
	}
	flags := flagQR | flagAA | flagRA | (q.Flags & (flagRD | flagCD))
	questionBytes := q.QuestionEnd - headerBytes
	if headerBytes+questionBytes+len(records)+ob > limit {
		records = nil
		count = 0
		flags |= flagTC
	}
	if len(records) == 0 {
		count = 0
	}
	arcount := 0
	if q.EDNS {
		arcount = 1
	}
	dst = binary.BigEndian.AppendUint16(dst, q.ID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(flags))
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(count))
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(arcount))
	dst = append(dst, msg[headerBytes:q.QuestionEnd]...)
	dst = append(dst, records...)
	if q.EDNS {
		dst = append(dst, 0, 0, typeOPT, ednsAdvertised>>8, ednsAdvertised&0xff, 0, 0, 0, 0, 0, 0)
	}
	return dst
}
