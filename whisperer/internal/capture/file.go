// Package capture is where frames come from: capture files (pcap and pcapng, read in pure
// Go) and live capture on the pod's interfaces (libpcap, which also compiles the filter).
package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Source yields frames; the slice is valid until the next call.
type Source interface {
	Next() (data []byte, ts time.Time, err error)
	LinkType() layers.LinkType
	Close() error
}

// ErrNotCapture: the file is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture file")

type zeroCopy interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

type file struct {
	f    *os.File
	r    zeroCopy
	link layers.LinkType
}

// OpenFile opens a pcap or pcapng file (told apart by its magic number).
func OpenFile(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrNotCapture)
	}
	src := &file{f: f}
	switch {
	case bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}):
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w: %v", path, ErrNotCapture, err)
		}
		src.r, src.link = r, r.LinkType()
	default:
		r, err := pcapgo.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrNotCapture)
		}
		src.r, src.link = r, r.LinkType()
	}
	return src, nil
}

func (s *file) Next() ([]byte, time.Time, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	if err == io.ErrUnexpectedEOF {
		err = io.EOF // a file cut while being written: what was read stands
	}
	return data, ci.Timestamp, err
}

func (s *file) LinkType() layers.LinkType { return s.link }
func (s *file) Close() error              { return s.f.Close() }
