package engine

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// decoder turns a captured frame into its TCP segment with reusable layers: no
// allocation per packet.
type decoder struct {
	eth     layers.Ethernet
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	payload gopacket.Payload
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}, decoded: make([]gopacket.LayerType, 0, 8)}
	for _, first := range []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2, layers.LayerTypeIPv4, layers.LayerTypeIPv6} {
		p := gopacket.NewDecodingLayerParser(first, &d.eth, &d.sll, &d.sll2, &d.dot1q, &d.ip4, &d.ip6, &d.tcp, &d.payload)
		p.IgnoreUnsupported = true // UDP, ICMP, ARP...: not ours, not an error
		d.parsers[first] = p
	}
	return d
}

// firstLayer maps a capture's link type to the layer its frames start with.
func firstLayer(lt layers.LinkType, data []byte) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	case layers.LinkTypeRaw, 12: // 12: DLT_RAW on some systems
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, true
		}
		return layers.LayerTypeIPv4, true
	}
	return 0, false
}

// SupportedLinkType says whether frames of this link type can be decoded.
func SupportedLinkType(lt layers.LinkType) bool {
	_, ok := firstLayer(lt, nil)
	return ok
}

// segment is the decoded TCP segment of a frame (slices into the frame).
type segment struct {
	src, dst         [16]byte
	v4               bool
	srcPort, dstPort uint16
	seq, ack         uint32
	syn, ackf        bool
	fin, rst         bool
	payload          []byte
}

func (d *decoder) decode(lt layers.LinkType, data []byte, s *segment) bool {
	first, ok := firstLayer(lt, data)
	if !ok {
		return false
	}
	_ = d.parsers[first].DecodeLayers(data, &d.decoded)
	var haveIP, haveTCP bool
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				return false // fragments of TCP are rare and not worth reassembling
			}
			s.v4 = true
			s.src = mapped(d.ip4.SrcIP)
			s.dst = mapped(d.ip4.DstIP)
			haveIP = true
		case layers.LayerTypeIPv6:
			s.v4 = false
			copy(s.src[:], d.ip6.SrcIP.To16())
			copy(s.dst[:], d.ip6.DstIP.To16())
			haveIP = true
		case layers.LayerTypeTCP:
			haveTCP = true
		}
	}
	if !haveIP || !haveTCP {
		return false
	}
	t := &d.tcp
	s.srcPort, s.dstPort = uint16(t.SrcPort), uint16(t.DstPort)
	s.seq, s.ack = t.Seq, t.Ack
	s.syn, s.ackf, s.fin, s.rst = t.SYN, t.ACK, t.FIN, t.RST
	s.payload = t.Payload
	return true
}

func mapped(ip []byte) (a [16]byte) {
	a[10], a[11] = 0xff, 0xff
	copy(a[12:], ip)
	return a
}
