package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// AnyDevice captures on every interface of the network namespace (the pod's), cooked, so
// it needs neither promiscuous mode nor NET_ADMIN.
const AnyDevice = "any"

// ErrTimeout: no packet within the read timeout (a live source only).
var ErrTimeout = errors.New("read timeout")

// FilterError is a capture filter the compiler refused.
type FilterError struct {
	Filter string
	Err    error
}

func (e *FilterError) Error() string { return fmt.Sprintf("capture filter %q: %v", e.Filter, e.Err) }

// CheckFilter compiles the filter for a cooked capture without opening anything, so an
// invalid filter is reported with the compiler's words before capture starts.
func CheckFilter(filter string, snaplen int) error {
	if _, err := pcap.CompileBPFFilter(layers.LinkTypeLinuxSLL, snaplen, filter); err != nil {
		return &FilterError{Filter: filter, Err: err}
	}
	return nil
}

// LiveOptions of a live capture.
type LiveOptions struct {
	Device      string // default AnyDevice
	Filter      string
	Snaplen     int           // default 262144
	BufferBytes int           // kernel ring, default 8 MiB
	Timeout     time.Duration // read timeout, default 200 ms
}

// Live is a live capture.
type Live struct {
	r *batchReader
}

// OpenLive starts capturing (non-promiscuous).
func OpenLive(o LiveOptions) (*Live, error) {
	if o.Device == "" {
		o.Device = AnyDevice
	}
	if o.Snaplen <= 0 {
		o.Snaplen = 262144
	}
	if o.BufferBytes <= 0 {
		o.BufferBytes = 8 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 200 * time.Millisecond
	}
	if err := CheckFilter(o.Filter, o.Snaplen); err != nil {
		return nil, err
	}
	r, err := openBatch(o)
	if err != nil {
		return nil, err
	}
	return &Live{r: r}, nil
}

// Next is the next packet (ErrTimeout: none within the read timeout); its bytes are valid
// until the next call.
func (l *Live) Next() ([]byte, time.Time, error) { return l.r.next() }

func (l *Live) LinkType() layers.LinkType { return l.r.link }

// Close stops the capture.
func (l *Live) Close() error {
	l.r.close()
	return nil
}

// Drops is what the kernel dropped (ring full) and what the interface dropped.
func (l *Live) Drops() (int64, error) { return l.r.drops() }
