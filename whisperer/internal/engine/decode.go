package engine

import (
	"encoding/binary"

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
	if ok, handled := fastDecode(lt, data, s); handled {
		return ok
	}
	return d.decodeLayers(lt, data, s)
}

// decodeLayers is the general decoder (gopacket's layers): VLAN tags, IPv6, IP and TCP
// options of every kind.
func (d *decoder) decodeLayers(lt layers.LinkType, data []byte, s *segment) bool {
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

// fastDecode decodes the frames nearly all traffic is, IPv4 and TCP behind a cooked
// (SLL, SLL2) or Ethernet header or none, with the checks and results gopacket's layers
// give them (FuzzDecode holds the two together), at a fraction of the cost: those layers
// were an eighth of the engine's time. handled is false for anything else (VLAN, IPv6,
// IP options, multipath TCP...), which decodeLayers then takes.
func fastDecode(lt layers.LinkType, data []byte, s *segment) (ok, handled bool) {
	var ip []byte
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 || binary.BigEndian.Uint16(data[12:14]) != uint16(layers.EthernetTypeIPv4) {
			return false, false
		}
		ip = data[14:]
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 || binary.BigEndian.Uint16(data[4:6]) > 8 || binary.BigEndian.Uint16(data[14:16]) != uint16(layers.EthernetTypeIPv4) {
			return false, false
		}
		ip = data[16:]
	case layers.LinkTypeLinuxSLL2:
		if len(data) < 20 || data[11] > 8 || binary.BigEndian.Uint16(data[0:2]) != uint16(layers.EthernetTypeIPv4) {
			return false, false
		}
		switch layers.ARPHardwareType(binary.BigEndian.Uint16(data[8:10])) {
		case layers.ARPHardwareTypeFRAD, layers.ARPHardwareTypeDot11Radiotap, layers.ARPHardwareTypeIPGRE:
			return false, false // the protocol field does not say what follows
		}
		ip = data[20:]
	case layers.LinkTypeIPv4:
		ip = data
	case layers.LinkTypeRaw, 12:
		if len(data) > 0 && data[0]>>4 == 6 {
			return false, false
		}
		ip = data
	default:
		return false, false
	}
	// IPv4 (gopacket's IPv4.DecodeFromBytes, without options).
	if len(ip) < 20 {
		return false, true
	}
	length, ihl := int(binary.BigEndian.Uint16(ip[2:4])), int(ip[0]&0x0f)
	if length == 0 {
		length = len(ip) // TSO: the length is the frame's
	}
	if ihl != 5 {
		if ihl < 5 || length < 20 || ihl*4 > length {
			return false, true
		}
		return false, false // options
	}
	if length < 20 {
		return false, true
	}
	if len(ip) > length {
		ip = ip[:length]
	}
	if flags := binary.BigEndian.Uint16(ip[6:8]); flags&0x2000 != 0 || flags&0x1fff != 0 {
		return false, true // a fragment
	}
	if ip[9] != uint8(layers.IPProtocolTCP) {
		// Not refused here: gopacket's layers follow tunnels (6in4, IP in IP) to a TCP
		// segment inside, which this decoder does not.
		return false, false
	}
	// TCP (TCP.DecodeFromBytes).
	t := ip[20:]
	if len(t) < 20 {
		return false, true
	}
	off := int(t[12]>>4) * 4
	if off < 20 || off > len(t) {
		return false, true
	}
	for o := t[20:off]; len(o) > 0; {
		switch o[0] {
		case 0: // end of options
			o = nil
			continue
		case 1: // no-op
			o = o[1:]
			continue
		case 30: // multipath TCP: gopacket checks each subtype
			return false, false
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return false, true
		}
		o = o[o[1]:]
	}
	s.v4 = true
	s.src, s.dst = mapped(ip[12:16]), mapped(ip[16:20])
	s.srcPort, s.dstPort = binary.BigEndian.Uint16(t[0:2]), binary.BigEndian.Uint16(t[2:4])
	s.seq, s.ack = binary.BigEndian.Uint32(t[4:8]), binary.BigEndian.Uint32(t[8:12])
	f := t[13]
	s.fin, s.syn, s.rst, s.ackf = f&0x01 != 0, f&0x02 != 0, f&0x04 != 0, f&0x10 != 0
	s.payload = t[off:]
	return true, true
}
