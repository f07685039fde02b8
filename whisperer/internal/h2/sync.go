package h2

import (
	"encoding/binary"

	"golang.org/x/net/http2/hpack"
)

// maxSyncFrame bounds the frame length accepted when looking for a frame boundary: peers
// may agree on up to 16 MiB, but real ones stay at 16 KiB-1 MiB, and a tight bound is what
// makes random bytes fail the test.
const maxSyncFrame = 1 << 20

// LooksLikeFrames says whether p, the bytes of one packet of a connection joined
// mid-stream, starts on an HTTP/2 frame boundary: it is a sequence of plausible frame
// headers (known type, flags that type defines, the stream id it needs, its fixed length,
// reserved bit clear) that ends exactly at the end of p, or holds at least two complete
// frames before one that continues in a later packet.
func LooksLikeFrames(p []byte) bool {
	complete := 0
	for len(p) > 0 {
		if len(p) < frameHeaderLen {
			return complete >= 2
		}
		n, ok := plausibleHeader(p)
		if !ok {
			return false
		}
		if frameHeaderLen+n > len(p) {
			return complete >= 2
		}
		complete++
		p = p[frameHeaderLen+n:]
	}
	return complete > 0
}

func plausibleHeader(h []byte) (int, bool) {
	n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	typ, flags := h[3], h[4]
	sidWord := binary.BigEndian.Uint32(h[5:])
	sid := sidWord & (1<<31 - 1)
	if n > maxSyncFrame || sidWord != sid || typ > frameContinuation {
		return 0, false
	}
	if want, ok := fixedLength(typ); ok && uint32(n) != want {
		return 0, false
	}
	var allowed byte
	onStream := true
	switch typ {
	case frameData:
		allowed = flagEndStream | flagPadded
	case frameHeaders:
		allowed = flagEndStream | flagEndHeaders | flagPadded | flagPriority
	case framePushPromise:
		allowed = flagEndHeaders | flagPadded
	case frameContinuation:
		allowed = flagEndHeaders
	case frameSettings:
		allowed, onStream = flagAck, false
		if n%6 != 0 || flags&flagAck != 0 && n != 0 {
			return 0, false
		}
	case framePing:
		allowed, onStream = flagAck, false
	case frameGoAway:
		onStream = false
		if n < 8 {
			return 0, false
		}
	case frameWindowUpdate:
		// stream 0 or a stream: either is valid
		return n, flags == 0
	}
	if flags&^allowed != 0 || onStream != (sid != 0) {
		return 0, false
	}
	return n, true
}

// MidStreamSender says who sent p, a packet that LooksLikeFrames, by the pseudo-header
// fields of its first complete header block that decode without the dynamic table:
// :method is a client's, :status a server's. ok is false when p says neither.
func MidStreamSender(p []byte) (client, ok bool) {
	for len(p) >= frameHeaderLen {
		n, plausible := plausibleHeader(p)
		if !plausible || frameHeaderLen+n > len(p) {
			return false, false
		}
		typ, flags := p[3], p[4]
		payload := p[frameHeaderLen : frameHeaderLen+n]
		p = p[frameHeaderLen+n:]
		if typ != frameHeaders || flags&flagEndHeaders == 0 {
			continue
		}
		if flags&flagPadded != 0 {
			if len(payload) == 0 || int(payload[0]) >= len(payload) {
				return false, false
			}
			payload = payload[1 : len(payload)-int(payload[0])]
		}
		if flags&flagPriority != 0 {
			if len(payload) < 5 {
				return false, false
			}
			payload = payload[5:]
		}
		var d partialDecoder
		var method, status bool
		_, err := d.decode(payload, func(f hpack.HeaderField) {
			method = method || f.Name == ":method"
			status = status || f.Name == ":status"
		})
		if err != nil || method == status {
			return false, false
		}
		return method, true
	}
	return false, false
}
