package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/capture"
	"github.com/spider-backstage/spider/whisperer/internal/engine"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
	"github.com/spider-backstage/spider/whisperer/internal/runid"
)

// readFile is `spider-whisperer read [flags] FILE`: the exchanges of a capture file as
// JSON lines on stdout, in the shape live mode sends (identity fields empty).
func readFile(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noRedact := fs.Bool("no-redact", false, "keep the values of authorization, cookie and set-cookie headers")
	redactMore := fs.String("redact", "", "comma-separated header names to redact besides the usual ones")
	bodyCap := fs.Int("body-cap", exchange.DefaultBodyCapBytes, "bytes kept of each body")
	local := fs.String("local", "", "comma-separated IPs of the pod the capture was taken in (direction); default: the server side")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: spider-whisperer read [--no-redact] [--redact NAMES] [--body-cap N] [--local IPS] FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if *bodyCap < 0 || *bodyCap > 1<<20 {
		fmt.Fprintln(stderr, "spider-whisperer read: --body-cap must be between 0 and 1048576")
		return 2
	}
	cfg := engine.Config{BodyCap: *bodyCap, Redactor: redact.New(splitList(*redactMore))}
	if *noRedact {
		cfg.Redactor = redact.None()
	}
	if *local != "" {
		addrs := map[netip.Addr]bool{}
		for _, s := range splitList(*local) {
			a, err := netip.ParseAddr(s)
			if err != nil {
				fmt.Fprintf(stderr, "spider-whisperer read: --local: %q is not an IP address\n", s)
				return 2
			}
			addrs[a.Unmap()] = true
		}
		cfg.Local = func(a netip.Addr) bool { return addrs[a] }
	}
	src, err := capture.OpenFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "spider-whisperer read: %v\n", oneLine(err))
		return 2
	}
	defer src.Close()
	if !engine.SupportedLinkType(src.LinkType()) {
		fmt.Fprintf(stderr, "spider-whisperer read: %s: link type %s is not supported\n", fs.Arg(0), src.LinkType())
		return 2
	}
	out := bufio.NewWriterSize(stdout, 1<<20)
	ids := runid.New()
	var line []byte
	eng := engine.New(cfg, func(x *exchange.Exchange) {
		x.ID = ids.Next()
		line = append(exchange.AppendJSON(line[:0], x), '\n')
		out.Write(line)
	})
	stop := startProfile()
	defer stop()
	lt := src.LinkType()
	var last time.Time
	for {
		data, ts, err := src.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// A corrupt record: report what was read, then say why it stopped.
				eng.Close(last)
				out.Flush()
				fmt.Fprintf(stderr, "spider-whisperer read: %s: %v\n", fs.Arg(0), oneLine(err))
				return 2
			}
			break
		}
		last = ts
		eng.Packet(lt, data, ts)
	}
	eng.Close(last)
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "spider-whisperer read: %v\n", err)
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
