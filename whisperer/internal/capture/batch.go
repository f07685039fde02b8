package capture

// A live capture read a batch at a time. gopacket's pcap handle costs one cgo call per
// packet (pcap_next_ex), ~10 % of the live whisperer's CPU in a profile; here one call to
// pcap_dispatch copies up to batchPackets packets out of libpcap's TPACKET_V3 ring into
// a C buffer the Go side then reads without further calls. libpcap still opens the
// capture: the `any` device, the cooked header, the filter fixed up for the kernel, the
// ring and its drop counters are all its own.

/*
#cgo LDFLAGS: -lpcap
#include <pcap.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	pcap_t *p;
	uint8_t *buf;
	int cap, reserve, used, n, max;
	int64_t *meta; // per packet: offset, length, seconds, microseconds
} spider_batch;

static void spider_batch_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
	spider_batch *b = (spider_batch *)user;
	int len = h->caplen;
	memcpy(b->buf + b->used, bytes, len);
	int64_t *m = b->meta + 4 * b->n;
	m[0] = b->used;
	m[1] = len;
	m[2] = h->ts.tv_sec;
	m[3] = h->ts.tv_usec;
	b->used += len;
	b->n++;
	// Room is kept for one packet of the snap length: stop before it could run out.
	if (b->n == b->max || b->cap - b->used < b->reserve) {
		pcap_breakloop(b->p);
	}
}

// spider_batch_fill reads what the ring holds, waiting up to timeout_ms when it holds
// nothing (the handle is non-blocking: with TPACKET_V3 a blocking libpcap polls without a
// timeout, and the kernel never retires an empty block). It returns the number of
// packets, or a negative libpcap error.
static int spider_batch_fill(spider_batch *b, int timeout_ms) {
	b->used = 0;
	b->n = 0;
	int r = pcap_dispatch(b->p, b->max, spider_batch_cb, (u_char *)b);
	if (r == 0 && b->n == 0) {
		struct pollfd fds[1] = {{.fd = pcap_get_selectable_fd(b->p), .events = POLLIN}};
		poll(fds, 1, timeout_ms);
		r = pcap_dispatch(b->p, b->max, spider_batch_cb, (u_char *)b);
	}
	if (r == PCAP_ERROR_BREAK || r >= 0) {
		return b->n;
	}
	return r;
}

static spider_batch *spider_batch_new(pcap_t *p, int bytes, int reserve, int max) {
	spider_batch *b = calloc(1, sizeof(spider_batch));
	if (b == NULL) return NULL;
	b->buf = malloc(bytes + reserve);
	b->meta = malloc(sizeof(int64_t) * 4 * max);
	if (b->buf == NULL || b->meta == NULL) {
		free(b->buf);
		free(b->meta);
		free(b);
		return NULL;
	}
	b->p = p;
	b->cap = bytes + reserve;
	b->reserve = reserve;
	b->max = max;
	return b;
}

static void spider_batch_free(spider_batch *b) {
	free(b->buf);
	free(b->meta);
	free(b);
}

// spider_open creates and activates a capture; NULL with the reason in errbuf.
static pcap_t *spider_open(const char *dev, int snaplen, int timeout_ms, int buffer, const char *filter, char *errbuf, int *filter_failed) {
	*filter_failed = 0;
	pcap_t *p = pcap_create(dev, errbuf);
	if (p == NULL) return NULL;
	if (pcap_set_snaplen(p, snaplen) != 0 || pcap_set_promisc(p, 0) != 0 ||
	    pcap_set_timeout(p, timeout_ms) != 0 || pcap_set_buffer_size(p, buffer) != 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	int r = pcap_activate(p);
	if (r < 0) {
		const char *why = pcap_geterr(p);
		if (why == NULL || why[0] == 0) why = pcap_statustostr(r);
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: %s", pcap_statustostr(r), why);
		pcap_close(p);
		return NULL;
	}
	if (pcap_setnonblock(p, 1, errbuf) != 0) {
		pcap_close(p);
		return NULL;
	}
	struct bpf_program prog;
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(p));
		*filter_failed = 1;
		pcap_close(p);
		return NULL;
	}
	r = pcap_setfilter(p, &prog);
	pcap_freecode(&prog);
	if (r != 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(p));
		*filter_failed = 1;
		pcap_close(p);
		return NULL;
	}
	return p;
}

static int spider_drops(pcap_t *p, uint64_t *out) {
	struct pcap_stat st;
	if (pcap_stats(p, &st) != 0) return -1;
	*out = (uint64_t)st.ps_drop + (uint64_t)st.ps_ifdrop;
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
)

const (
	batchBytes   = 1 << 20 // packet bytes per batch, plus one snap length of reserve
	batchPackets = 4096
)

// batchReader holds a libpcap capture and the C buffer of its last batch.
type batchReader struct {
	p    *C.pcap_t
	b    *C.spider_batch
	buf  []byte
	meta []int64
	n, i int
	link layers.LinkType
	// timeoutMs is the wait for a packet when the ring is empty, also the ring's block
	// timeout (libpcap sets both from it).
	timeoutMs C.int
}

func openBatch(o LiveOptions) (*batchReader, error) {
	dev, filter := C.CString(o.Device), C.CString(o.Filter)
	defer C.free(unsafe.Pointer(dev))
	defer C.free(unsafe.Pointer(filter))
	errbuf := (*C.char)(C.calloc(C.PCAP_ERRBUF_SIZE, 1))
	defer C.free(unsafe.Pointer(errbuf))
	var filterFailed C.int
	p := C.spider_open(dev, C.int(o.Snaplen), C.int(o.Timeout/time.Millisecond), C.int(o.BufferBytes), filter, errbuf, &filterFailed)
	if p == nil {
		err := errors.New(C.GoString(errbuf))
		if filterFailed != 0 {
			return nil, &FilterError{Filter: o.Filter, Err: err}
		}
		return nil, fmt.Errorf("capture on %s: %w", o.Device, err)
	}
	b := C.spider_batch_new(p, batchBytes, C.int(o.Snaplen), batchPackets)
	if b == nil {
		C.pcap_close(p)
		return nil, errors.New("capture: out of memory for the batch buffer")
	}
	return &batchReader{p: p, b: b,
		buf:  unsafe.Slice((*byte)(unsafe.Pointer(b.buf)), int(b.cap)),
		meta: unsafe.Slice((*int64)(unsafe.Pointer(b.meta)), 4*batchPackets),
		link: layers.LinkType(C.pcap_datalink(p)), timeoutMs: C.int(o.Timeout / time.Millisecond)}, nil
}

// next returns the next packet, valid until the following call.
func (r *batchReader) next() ([]byte, time.Time, error) {
	if r.i == r.n {
		r.i, r.n = 0, 0
		n := int(C.spider_batch_fill(r.b, r.timeoutMs))
		switch {
		case n == 0:
			return nil, time.Time{}, ErrTimeout
		case n < 0:
			return nil, time.Time{}, fmt.Errorf("capture: %s", C.GoString(C.pcap_geterr(r.p)))
		}
		r.n = n
	}
	m := r.meta[4*r.i : 4*r.i+4]
	r.i++
	return r.buf[m[0] : m[0]+m[1] : m[0]+m[1]], time.Unix(m[2], m[3]*1000), nil
}

func (r *batchReader) drops() (int64, error) {
	var d C.uint64_t
	if C.spider_drops(r.p, &d) != 0 {
		return 0, fmt.Errorf("capture stats: %s", C.GoString(C.pcap_geterr(r.p)))
	}
	return int64(d), nil
}

func (r *batchReader) close() {
	if r.p != nil {
		C.pcap_close(r.p)
		C.spider_batch_free(r.b)
		r.p, r.b, r.buf, r.meta = nil, nil, nil, nil
	}
}
