package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// serveDNS stands in for the agent's DNS proxy: PTR of SW_DNS_NAME_IP answers
// SW_DNS_NAME, anything else NXDOMAIN; every question is logged to SW_DIR/dns.log.
func serveDNS(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(os.Getenv("SW_DNS_NAME_IP")).To4()
	want := fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", ip[3], ip[2], ip[1], ip[0])
	name := dnsmessage.MustNewName(os.Getenv("SW_DNS_NAME"))
	var mu sync.Mutex
	logf := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		f, _ := os.OpenFile(filepath.Join(os.Getenv("SW_DIR"), "dns.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		f.WriteString(s + "\n")
		f.Close()
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			logf(q.Type.String() + " " + q.Name.String())
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			match := q.Type == dnsmessage.TypePTR && strings.EqualFold(q.Name.String(), want)
			if !match {
				b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError})
			}
			b.StartQuestions()
			b.Question(q)
			if match {
				b.StartAnswers()
				b.PTRResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 30}, dnsmessage.PTRResource{PTR: name})
			}
			out, err := b.Finish()
			if err == nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return nil
}
