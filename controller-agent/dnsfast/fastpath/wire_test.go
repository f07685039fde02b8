package fastpath

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func query(id uint16, flags uint16, name string, qtype, qclass uint16, opt []byte) []byte {
	m := binary.BigEndian.AppendUint16(nil, id)
	m = binary.BigEndian.AppendUint16(m, flags)
	ar := uint16(0)
	if opt != nil {
		ar = 1
	}
	m = append(m, 0, 1, 0, 0, 0, 0, byte(ar>>8), byte(ar))
	key, _ := NameKey(name)
	m = append(m, key...)
	m = binary.BigEndian.AppendUint16(m, qtype)
	m = binary.BigEndian.AppendUint16(m, qclass)
	return append(m, opt...)
}

// An OPT record: root, type 41, payload size, version, no options.
func opt(size uint16, version byte) []byte {
	return []byte{0, 0, 41, byte(size >> 8), byte(size), 0, version, 0, 0, 0, 0}
}

func TestParseQueryAcceptsWhatTheAgentAnswersAndLowerCasesTheKey(t *testing.T) {
	msg := query(7, 0x0100, "7.1.244.10.In-Addr.ARPA", typePTR, classIN, nil)
	q, key, ok := ParseQuery(msg, make([]byte, 0, 255))
	if !ok {
		t.Fatal("rejected a plain PTR query")
	}
	want, _ := NameKey("7.1.244.10.in-addr.arpa")
	if string(key) != want || q.QType != typePTR || q.ID != 7 || q.EDNS || q.QuestionEnd != len(msg) {
		t.Fatalf("got %+v key %q", q, key)
	}
	q, _, ok = ParseQuery(query(8, 0, "x.example", typeA, classIN, opt(4096, 0)), make([]byte, 0, 255))
	if !ok || !q.EDNS || q.UDPSize != 4096 {
		t.Fatalf("EDNS query: %+v %v", q, ok)
	}
	q, _, _ = ParseQuery(query(8, 0, "x.example", typeA, classIN, opt(100, 0)), make([]byte, 0, 255))
	if q.UDPSize != 512 {
		t.Fatalf("payload size below 512 not raised: %d", q.UDPSize)
	}
}

func TestParseQueryLeavesEveryOtherCaseToTheAgent(t *testing.T) {
	good := query(1, 0, "a.b", typeA, classIN, nil)
	mutate := func(f func(m []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"short":          good[:11],
		"response":       mutate(func(m []byte) []byte { m[2] |= 0x80; return m }),
		"opcode":         mutate(func(m []byte) []byte { m[2] |= 0x10; return m }),
		"two questions":  mutate(func(m []byte) []byte { m[5] = 2; return m }),
		"an answer":      mutate(func(m []byte) []byte { m[7] = 1; return m }),
		"authority":      mutate(func(m []byte) []byte { m[9] = 1; return m }),
		"trailing":       append(append([]byte(nil), good...), 0),
		"cut":            good[:len(good)-1],
		"class CH":       query(1, 0, "a.b", typeA, 3, nil),
		"compression":    append(append([]byte(nil), good[:12]...), 0xc0, 12, 0, 1, 0, 1),
		"escaped byte":   query(1, 0, "a\\.b", typeA, classIN, nil),
		"space":          query(1, 0, "a b.c", typeA, classIN, nil),
		"EDNS version 1": query(1, 0, "a.b", typeA, classIN, opt(1232, 1)),
		"OPT not root":   append(query(1, 0, "a.b", typeA, classIN, nil)[:0], query(1, 0, "a.b", typeA, classIN, []byte{1, 'x', 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0})...),
		"OPT cut":        query(1, 0, "a.b", typeA, classIN, opt(1232, 0)[:10]),
		"oversized":      append(append([]byte(nil), good...), make([]byte, MaxQueryBytes)...),
	}
	for name, msg := range cases {
		if _, _, ok := ParseQuery(msg, make([]byte, 0, 255)); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAppendResponseWritesTheAgentsAnswer(t *testing.T) {
	rr := []byte{0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 5, 0, 3, 1, 'x', 0}
	msg := query(0xabcd, 0x0110, "7.1.244.10.IN-addr.arpa", typePTR, classIN, nil) // RD, CD
	q, _, _ := ParseQuery(msg, make([]byte, 0, 255))
	out := AppendResponse(nil, msg, &q, rr, 1)
	want := append([]byte{0xab, 0xcd, 0x85, 0x90, 0, 1, 0, 1, 0, 0, 0, 0}, msg[12:]...)
	want = append(want, rr...)
	if !bytes.Equal(out, want) {
		t.Fatalf("got  %x\nwant %x", out, want)
	}
	// With EDNS the agent's OPT (1232, version 0) follows the answers.
	msg = query(1, 0, "a.b", typePTR, classIN, opt(4096, 0))
	q, _, _ = ParseQuery(msg, make([]byte, 0, 255))
	out = AppendResponse(nil, msg, &q, rr, 1)
	if !bytes.HasSuffix(out, []byte{0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0}) || out[11] != 1 {
		t.Fatalf("OPT: %x", out)
	}
	// NODATA: no records, ancount 0, still authoritative NOERROR.
	out = AppendResponse(nil, msg, &q, nil, 0)
	if binary.BigEndian.Uint16(out[6:]) != 0 || out[2]&0x04 == 0 || out[3]&0x0f != 0 {
		t.Fatalf("NODATA: %x", out)
	}
	// Too big for 512 bytes without EDNS: TC, no answers.
	msg = query(1, 0, "a.b", typeA, classIN, nil)
	q, _, _ = ParseQuery(msg, make([]byte, 0, 255))
	out = AppendResponse(nil, msg, &q, make([]byte, 600), 30)
	if out[2]&0x02 == 0 || binary.BigEndian.Uint16(out[6:]) != 0 || len(out) != len(msg) {
		t.Fatalf("TC: %x", out)
	}
}

// FuzzParseQuery: no input panics; an accepted one has a consistent key and question,
// and its response echoes the ID and question and parses back as a response.
func FuzzParseQuery(f *testing.F) {
	f.Add(query(1, 0x0100, "7.1.244.10.in-addr.arpa", typePTR, classIN, nil))
	f.Add(query(2, 0, "db.internal", typeA, classIN, opt(1232, 0)))
	f.Add(query(3, 0, "X.Y", typeANY, classIN, opt(600, 0)))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1})
	e := NewEntry([]byte{0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 5, 0, 3, 1, 'x', 0}, []byte{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 5}, 1, nil, 0)
	f.Fuzz(func(t *testing.T, msg []byte) {
		q, key, ok := ParseQuery(msg, make([]byte, 0, 255))
		if !ok {
			return
		}
		if len(key) != q.NameEnd-headerBytes || len(key) > maxNameBytes || !bytes.EqualFold(key, msg[headerBytes:q.NameEnd]) {
			t.Fatalf("key %x for name %x", key, msg[headerBytes:q.NameEnd])
		}
		records, count := e.Answer(q.QType)
		out := AppendResponse(nil, msg, &q, records, count)
		if binary.BigEndian.Uint16(out) != q.ID || out[2]&0x80 == 0 {
			t.Fatalf("ID or QR: %x", out)
		}
		if !bytes.Equal(out[12:q.QuestionEnd], msg[12:q.QuestionEnd]) {
			t.Fatal("question not echoed")
		}
		limit := 512
		if q.EDNS {
			limit = q.UDPSize
		}
		if len(out) > max(limit, q.QuestionEnd+optBytes) {
			t.Fatalf("response of %d bytes over the limit %d", len(out), limit)
		}
		an := int(binary.BigEndian.Uint16(out[6:]))
		want := len(out) - q.QuestionEnd
		if q.EDNS {
			want -= optBytes
		}
		if (an == 0) != (want == 0) {
			t.Fatalf("ancount %d with %d answer bytes", an, want)
		}
	})
}
