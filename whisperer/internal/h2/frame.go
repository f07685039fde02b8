package h2

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/net/http2/hpack"
)

// Frame types and flags (RFC 9113 section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	settingEnablePush        = 0x2
	settingInitialWindowSize = 0x4
	settingMaxFrameSize      = 0x5

	frameHeaderLen = 9
	minMaxFrame    = 1 << 14
	maxMaxFrame    = 1<<24 - 1
)

// preface is what an h2 client sends first (RFC 9113 section 3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// IsPreface says whether client bytes start with the HTTP/2 connection preface; when p is
// shorter than the preface, whether p is a prefix of it (more bytes may still decide). An
// empty p is not: there is nothing to decide on.
func IsPreface(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	if len(p) >= len(preface) {
		return string(p[:len(preface)]) == preface
	}
	return string(p) == preface[:len(p)]
}

// side reads the frames of one direction of a connection. Every frame is processed as its
// bytes arrive, never buffered whole: DATA goes straight to the stream's body capture and
// header block fragments straight into the HPACK decoder (which keeps only an incomplete
// field). So a frame of any size the peers agreed on (SETTINGS_MAX_FRAME_SIZE up to 16 MiB)
// costs a few fixed bytes here, and a frame split at any byte is the same as a whole one.
type side struct {
	c      *Conn
	client bool

	preface int  // bytes of the client preface still expected
	first   bool // the next frame must be SETTINGS (the connection preface)

	hdr  [frameHeaderLen]byte
	hdrN int

	// The frame being read.
	typ, flags byte
	sid        uint32
	length     uint32
	off        uint32    // payload bytes consumed
	start      time.Time // when the frame's first byte was captured
	prefixLen  uint32    // pad length, priority and promised stream id before the content
	padLen     uint32
	small      [8]byte // prefix, or the fixed part of a control frame
	smallN     int

	dec   *hpack.Decoder
	block block

	// A connection joined mid-stream: packets are skipped until one starts on a frame
	// boundary, and header blocks are collected whole for the partial decoder.
	partial  *partialDecoder
	synced   bool
	blockBuf []byte
}

func newSide(c *Conn, client bool) *side {
	s := &side{c: c, client: client, first: true}
	if client {
		s.preface = len(preface)
	}
	s.dec = hpack.NewDecoder(initialTableSize, s.block.add)
	// An observer decodes whatever table size the encoder chose: the cap only bounds memory.
	// SETTINGS_HEADER_TABLE_SIZE is not used to validate the encoder's size updates, because
	// the capture order of the other direction's SETTINGS and the first header block that
	// uses the new size is not guaranteed.
	s.dec.SetAllowedMaxDynamicTableSize(maxTableSize)
	s.dec.SetMaxStringLength(maxHeaderBlock)
	return s
}

func (s *side) name() string {
	if s.client {
		return "client"
	}
	return "server"
}

func (s *side) errorf(format string, args ...any) error {
	return fmt.Errorf("h2 %s: "+format, append([]any{s.name()}, args...)...)
}

// feed consumes p. It returns an error when the bytes are not HTTP/2 that can be followed.
func (s *side) feed(p []byte, ts time.Time) error {
	if s.partial != nil && !s.synced {
		if !LooksLikeFrames(p) {
			return nil // inside a frame that began before the capture
		}
		s.synced = true
	}
	for len(p) > 0 {
		if s.preface > 0 {
			done := len(preface) - s.preface
			n := min(len(p), s.preface)
			if string(p[:n]) != preface[done:done+n] {
				return s.errorf("no connection preface (capture started mid-connection?)")
			}
			s.preface -= n
			p = p[n:]
			continue
		}
		if s.hdrN < frameHeaderLen {
			if s.hdrN == 0 {
				s.start = ts // a frame begins when its first byte is captured
			}
			n := copy(s.hdr[s.hdrN:], p)
			s.hdrN += n
			p = p[n:]
			if s.hdrN < frameHeaderLen {
				return nil
			}
			if err := s.begin(); err != nil {
				return err
			}
		} else {
			n := min(uint32(len(p)), s.length-s.off)
			if err := s.payload(p[:n]); err != nil {
				return err
			}
			s.off += n
			p = p[n:]
		}
		if s.off == s.length {
			s.hdrN = 0
			if err := s.end(ts); err != nil {
				return err
			}
		}
	}
	return nil
}

// begin validates a frame header and lays out its payload.
func (s *side) begin() error {
	h := s.hdr[:]
	s.length = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
	s.typ, s.flags = h[3], h[4]
	s.sid = binary.BigEndian.Uint32(h[5:]) & (1<<31 - 1)
	s.off, s.prefixLen, s.padLen, s.smallN = 0, 0, 0, 0

	if s.first {
		if s.typ != frameSettings || s.flags&flagAck != 0 {
			return s.errorf("first frame is type %d, not SETTINGS (capture started mid-connection?)", s.typ)
		}
		s.first = false
	}
	if s.block.open && s.typ != frameContinuation {
		return s.errorf("frame type %d inside the header block of stream %d", s.typ, s.block.sid)
	}
	if want, ok := fixedLength(s.typ); ok && s.length != want {
		return s.errorf("frame type %d of %d bytes, want %d", s.typ, s.length, want)
	}
	onStream := s.typ == frameData || s.typ == frameHeaders || s.typ == framePriority ||
		s.typ == frameRSTStream || s.typ == framePushPromise || s.typ == frameContinuation
	onConn := s.typ == frameSettings || s.typ == framePing || s.typ == frameGoAway
	if onStream && s.sid == 0 {
		return s.errorf("frame type %d on stream 0", s.typ)
	}
	if onConn && s.sid != 0 {
		return s.errorf("frame type %d on stream %d", s.typ, s.sid)
	}

	switch s.typ {
	case frameData, frameHeaders, framePushPromise:
		if s.flags&flagPadded != 0 {
			s.prefixLen = 1
		}
		if s.typ == frameHeaders && s.flags&flagPriority != 0 {
			s.prefixLen += 5
		}
		if s.typ == framePushPromise {
			s.prefixLen += 4
		}
		if s.length < s.prefixLen {
			return s.errorf("frame type %d too short (%d bytes)", s.typ, s.length)
		}
	case frameSettings:
		if s.flags&flagAck != 0 && s.length != 0 {
			return s.errorf("SETTINGS ack with a payload")
		}
		if s.length%6 != 0 {
			return s.errorf("SETTINGS of %d bytes", s.length)
		}
	case frameGoAway:
		if s.length < 8 {
			return s.errorf("GOAWAY of %d bytes", s.length)
		}
	case frameContinuation:
		if !s.block.open || s.block.sid != s.sid {
			return s.errorf("CONTINUATION on stream %d without a header block", s.sid)
		}
	}

	switch s.typ {
	case frameHeaders:
		s.block.begin(s.sid, s.flags&flagEndStream != 0, s.start, false)
	case framePushPromise:
		s.block.begin(s.sid, false, s.start, true)
	}
	if s.block.open {
		s.block.size += int(s.length)
		if s.block.size > maxHeaderBlock {
			return s.errorf("header block of stream %d over %d bytes", s.block.sid, maxHeaderBlock)
		}
	}
	return nil
}

// payload handles the next bytes of the current frame's payload.
func (s *side) payload(p []byte) error {
	switch s.typ {
	case frameData, frameHeaders, framePushPromise:
		// The prefix: pad length first, then priority or the promised stream id.
		o := s.off
		for len(p) > 0 && o < s.prefixLen {
			s.small[s.smallN] = p[0]
			s.smallN++
			if s.smallN == 1 && s.flags&flagPadded != 0 {
				s.padLen = uint32(p[0])
				if s.padLen > s.length-s.prefixLen {
					return s.errorf("padding of %d bytes in a %d byte frame", s.padLen, s.length)
				}
			}
			o++
			p = p[1:]
			if o == s.prefixLen && s.typ == framePushPromise {
				s.block.promised = binary.BigEndian.Uint32(s.small[s.smallN-4:]) & (1<<31 - 1)
				if s.block.promised == 0 || s.block.promised%2 != 0 {
					return s.errorf("PUSH_PROMISE of stream %d", s.block.promised)
				}
			}
		}
		// The content, before any padding.
		if end := s.length - s.padLen; o < end && len(p) > 0 {
			content := p[:min(uint32(len(p)), end-o)]
			if s.typ == frameData {
				s.c.data(s, content)
			} else if s.partial != nil {
				s.blockBuf = append(s.blockBuf, content...)
			} else if _, err := s.dec.Write(content); err != nil {
				return s.errorf("HPACK: %v", err)
			}
		}
	case frameContinuation:
		if s.partial != nil {
			s.blockBuf = append(s.blockBuf, p...)
		} else if _, err := s.dec.Write(p); err != nil {
			return s.errorf("HPACK: %v", err)
		}
	case frameSettings:
		for len(p) > 0 {
			n := copy(s.small[s.smallN:6], p)
			s.smallN += n
			p = p[n:]
			if s.smallN == 6 {
				s.smallN = 0
				if err := s.setting(binary.BigEndian.Uint16(s.small[:]), binary.BigEndian.Uint32(s.small[2:])); err != nil {
					return err
				}
			}
		}
	default:
		// Fixed fields of RST_STREAM, PING, GOAWAY, WINDOW_UPDATE, PRIORITY; the rest (GOAWAY
		// debug data, unknown frame types) is skipped.
		n := copy(s.small[s.smallN:], p)
		s.smallN += n
	}
	return nil
}

// end acts on a frame whose payload is complete.
func (s *side) end(ts time.Time) error {
	switch s.typ {
	case frameData:
		if s.flags&flagEndStream != 0 {
			s.c.endStream(s, s.sid, ts)
		}
	case frameHeaders, framePushPromise, frameContinuation:
		if s.flags&flagEndHeaders == 0 {
			return nil
		}
		if s.partial != nil {
			unknown, err := s.partial.decode(s.blockBuf, s.block.add)
			s.blockBuf = s.blockBuf[:0]
			if err != nil {
				return s.errorf("HPACK: %v", err)
			}
			s.block.unknown = unknown
		} else if err := s.dec.Close(); err != nil {
			return s.errorf("HPACK: %v", err)
		}
		err := s.c.headerBlock(s, &s.block, ts)
		s.block.reset()
		return err
	case frameRSTStream:
		s.c.reset(s.sid, ts)
	case frameGoAway:
		s.c.goAway(s, binary.BigEndian.Uint32(s.small[:4])&(1<<31-1), ts)
	}
	return nil
}

// setting checks one SETTINGS parameter. Values out of range mean the bytes are not h2
// between two working peers. SETTINGS_HEADER_TABLE_SIZE needs nothing here (see newSide),
// and SETTINGS_MAX_FRAME_SIZE neither: frames are streamed whatever their size.
func (s *side) setting(id uint16, v uint32) error {
	switch id {
	case settingMaxFrameSize:
		if v < minMaxFrame || v > maxMaxFrame {
			return s.errorf("SETTINGS_MAX_FRAME_SIZE %d out of range", v)
		}
	case settingEnablePush:
		if v > 1 {
			return s.errorf("SETTINGS_ENABLE_PUSH %d", v)
		}
	case settingInitialWindowSize:
		if v > 1<<31-1 {
			return s.errorf("SETTINGS_INITIAL_WINDOW_SIZE %d out of range", v)
		}
	}
	return nil
}

// fixedLength is the payload length of the frame types that have only one.
func fixedLength(typ byte) (uint32, bool) {
	switch typ {
	case framePriority:
		return 5, true
	case frameRSTStream, frameWindowUpdate:
		return 4, true
	case framePing:
		return 8, true
	}
	return 0, false
}
