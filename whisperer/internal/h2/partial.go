package h2

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// partialDecoder decodes the header blocks of a connection joined mid-stream, whose HPACK
// dynamic table was filled before the capture began. What does not depend on that table
// decodes exactly: static-table fields, literals, and fields indexed to entries inserted
// since the capture began (index 62 is always the newest insertion, whatever the table's
// size, so an insertion seen here keeps its index until the encoder evicts it, and an
// encoder never references an evicted entry). A reference to an older entry is unknown,
// and counted as such rather than guessed.
type partialDecoder struct {
	table []partialEntry // newest first
	bytes int            // RFC 7541 sizes of table (bounds what is kept)
}

type partialEntry struct {
	name, value string
	known       bool
}

var errHPACK = errors.New("malformed header block")

// decode emits the fields of a complete header block it can decode; it returns how many
// fields referenced the unknown part of the dynamic table.
func (d *partialDecoder) decode(p []byte, emit func(hpack.HeaderField)) (unknown int, err error) {
	for len(p) > 0 {
		b := p[0]
		switch {
		case b&0x80 != 0: // indexed field
			var idx uint64
			if idx, p, err = readInt(p, 7); err != nil {
				return unknown, err
			}
			if idx == 0 {
				return unknown, errHPACK
			}
			if f, ok := d.field(idx); ok {
				emit(f)
			} else {
				unknown++
			}
		case b&0xe0 == 0x20: // dynamic table size update: the table's content is unchanged
			if _, p, err = readInt(p, 5); err != nil {
				return unknown, err
			}
		default: // literal: with incremental indexing (01), without (0000) or never (0001)
			prefix := uint8(4)
			indexing := b&0xc0 == 0x40
			if indexing {
				prefix = 6
			}
			var idx uint64
			if idx, p, err = readInt(p, prefix); err != nil {
				return unknown, err
			}
			var name, value string
			nameKnown := true
			if idx == 0 {
				if name, p, err = readString(p); err != nil {
					return unknown, err
				}
			} else {
				var f hpack.HeaderField
				f, nameKnown = d.field(idx)
				name = f.Name
			}
			if value, p, err = readString(p); err != nil {
				return unknown, err
			}
			if nameKnown {
				emit(hpack.HeaderField{Name: name, Value: value, Sensitive: b&0xf0 == 0x10})
			} else {
				unknown++
			}
			if indexing {
				d.insert(partialEntry{name: name, value: value, known: nameKnown})
			}
		}
	}
	return unknown, nil
}

// field resolves an index (1-61 static, 62+ dynamic).
func (d *partialDecoder) field(idx uint64) (hpack.HeaderField, bool) {
	if idx <= staticEntries {
		return staticField(idx), true
	}
	k := idx - staticEntries - 1
	if k >= uint64(len(d.table)) || !d.table[k].known {
		return hpack.HeaderField{}, false
	}
	return hpack.HeaderField{Name: d.table[k].name, Value: d.table[k].value}, true
}

// insert records an insertion; entries beyond what any table this decoder follows could
// hold are forgotten (referencing them is then unknown, never wrong).
func (d *partialDecoder) insert(e partialEntry) {
	d.table = append(d.table, partialEntry{})
	copy(d.table[1:], d.table)
	d.table[0] = e
	d.bytes += len(e.name) + len(e.value) + 32
	for d.bytes > maxTableSize && len(d.table) > 0 {
		last := d.table[len(d.table)-1]
		d.bytes -= len(last.name) + len(last.value) + 32
		d.table = d.table[:len(d.table)-1]
	}
}

const staticEntries = 61

// staticField is entry idx (1-61) of RFC 7541 Appendix A, read through x/net's decoder so
// the table is not copied here.
func staticField(idx uint64) hpack.HeaderField {
	return staticTable[idx-1]
}

var staticTable = func() []hpack.HeaderField {
	t := make([]hpack.HeaderField, 0, staticEntries)
	for i := 1; i <= staticEntries; i++ {
		var f hpack.HeaderField
		dec := hpack.NewDecoder(0, func(h hpack.HeaderField) { f = h })
		var buf []byte
		buf = appendInt(buf, 7, 0x80, uint64(i))
		if _, err := dec.Write(buf); err != nil {
			panic(err)
		}
		t = append(t, f)
	}
	return t
}()

func appendInt(dst []byte, prefix uint8, first byte, v uint64) []byte {
	max := uint64(1)<<prefix - 1
	if v < max {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(dst, byte(v))
}

// readInt reads an RFC 7541 5.1 integer with an n-bit prefix.
func readInt(p []byte, n uint8) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, p, errHPACK
	}
	max := uint64(1)<<n - 1
	v := uint64(p[0]) & max
	p = p[1:]
	if v < max {
		return v, p, nil
	}
	var m uint
	for {
		if len(p) == 0 || m > 28 {
			return 0, p, errHPACK
		}
		b := p[0]
		p = p[1:]
		v += uint64(b&0x7f) << m
		m += 7
		if b&0x80 == 0 {
			return v, p, nil
		}
	}
}

// readString reads an RFC 7541 5.2 string literal.
func readString(p []byte) (string, []byte, error) {
	if len(p) == 0 {
		return "", p, errHPACK
	}
	huff := p[0]&0x80 != 0
	n, p, err := readInt(p, 7)
	if err != nil {
		return "", p, err
	}
	if n > uint64(len(p)) || n > maxHeaderBlock {
		return "", p, errHPACK
	}
	raw := p[:n]
	p = p[n:]
	if !huff {
		return string(raw), p, nil
	}
	s, err := hpack.HuffmanDecodeToString(raw)
	if err != nil {
		return "", p, errHPACK
	}
	return s, p, nil
}
