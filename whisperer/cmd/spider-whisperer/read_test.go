package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// conversation is one keep-alive connection with a secret header, as frames.
func conversation(t *testing.T) [][]byte {
	t.Helper()
	c, s := net.IP{10, 1, 0, 2}, net.IP{10, 1, 0, 1}
	cseq, sseq := uint32(100), uint32(900)
	var frames [][]byte
	add := func(fromClient, syn, ack bool, data string) {
		src, dst, sp, dp, seq, ackn := c, s, 41000, 8080, cseq, sseq
		if !fromClient {
			src, dst, sp, dp, seq, ackn = s, c, 8080, 41000, sseq, cseq
		}
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq, Ack: ackn, SYN: syn, ACK: ack, Window: 65535}
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(data)); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, buf.Bytes())
		n := uint32(len(data))
		if syn {
			n++
		}
		if fromClient {
			cseq += n
		} else {
			sseq += n
		}
	}
	add(true, true, false, "")
	add(false, true, true, "")
	add(true, false, true, "")
	add(true, false, true, "GET /a HTTP/1.1\r\nHost: web\r\nAuthorization: Bearer secret-123\r\n\r\n")
	add(false, false, true, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	add(true, false, true, "POST /b HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nabc")
	add(false, false, true, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
	return frames
}

func writeCapture(t *testing.T, ng bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var write func(ci gopacket.CaptureInfo, b []byte) error
	if ng {
		w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Flush()
		write = w.WritePacket
	} else {
		w := pcapgo.NewWriter(f)
		w.WriteFileHeader(65535, layers.LinkTypeEthernet)
		write = w.WritePacket
	}
	for i, fr := range conversation(t) {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(fr), Length: len(fr)}
		if err := write(ci, fr); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestRead(t *testing.T) {
	notCapture := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(notCapture, []byte("hello, this is not a capture\n"), 0o644)
	cases := []struct {
		name       string
		args       func() []string
		code       int
		lines      int
		secret     bool
		stderrLine bool
	}{
		{name: "pcap", args: func() []string { return []string{writeCapture(t, false)} }, lines: 2},
		{name: "pcapng", args: func() []string { return []string{writeCapture(t, true)} }, lines: 2},
		{name: "no-redact", args: func() []string { return []string{"--no-redact", writeCapture(t, false)} }, lines: 2, secret: true},
		{name: "not a capture", args: func() []string { return []string{notCapture} }, code: 2, stderrLine: true},
		{name: "missing file", args: func() []string { return []string{filepath.Join(t.TempDir(), "none")} }, code: 2, stderrLine: true},
		{name: "no file", args: func() []string { return nil }, code: 2},
		{name: "bad flag value", args: func() []string { return []string{"--body-cap", "-1", "x"} }, code: 2, stderrLine: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := readFile(c.args(), &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, c.code, errb.String())
			}
			if c.stderrLine && strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
				t.Fatalf("error not one line: %q", errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != c.lines {
				t.Fatalf("%d lines: %s", len(lines), out.String())
			}
			if strings.Contains(out.String(), "secret-123") != c.secret {
				t.Fatalf("secret shown: %v, want %v", !c.secret, c.secret)
			}
			for _, line := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				if m["attachmentId"] != "" || m["pod"] != "" || m["direction"] != "inbound" || m["startedAt"] == nil {
					t.Fatalf("shape: %s", line)
				}
			}
		})
	}
}
