// Package live is the whisperer's default mode, the loop of whisperer-contract.md: fetch
// the configuration, capture with its filter, report running, ship batches every flush
// interval, report stats, follow the stop long-poll and expiresAt, flush and terminate.
package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/spider-backstage/spider/whisperer/internal/agent"
	"github.com/spider-backstage/spider/whisperer/internal/capture"
	"github.com/spider-backstage/spider/whisperer/internal/cpubreak"
	"github.com/spider-backstage/spider/whisperer/internal/engine"
	"github.com/spider-backstage/spider/whisperer/internal/exchange"
	"github.com/spider-backstage/spider/whisperer/internal/peers"
	"github.com/spider-backstage/spider/whisperer/internal/redact"
	"github.com/spider-backstage/spider/whisperer/internal/runid"
	"github.com/spider-backstage/spider/whisperer/internal/ship"
)

// Tunables (not in the contract's settings).
const (
	queueBytes   = 8 << 20 // encoded exchanges held while the agent cannot take them
	channelSize  = 32      // hand-offs (of up to handOff exchanges) between capture and encoder
	handOff      = 256
	handOffEvery = 50 * time.Millisecond
	memoryLimit  = 40 << 20 // the Go heap's soft limit: the whole process stays under 64 MB
	// The heap is mostly short-lived exchange records: collecting at 4× the live heap
	// instead of 2× halves the collector's share of the CPU (a profile under load had it
	// at ~15 %), and memoryLimit still caps the heap.
	gcPercent      = 300
	statsEvery     = 15 * time.Second
	finalFlush     = 5 * time.Second
	cpuPause       = 2 * time.Second
	maxBackoff     = 30 * time.Second
	stopWait       = 30 * time.Second
	localAddrEvery = time.Minute
	// drainMax bounds the drain at a stop (see drain): the capture's read timeout (200 ms)
	// is also the ring's block timeout, so what was captured before the stop is handed
	// over well within it.
	drainMax = time.Second
)

// counters are the cumulative stats, shared between goroutines.
type counters struct {
	packets, kernelDrops, bytes, exchanges, sampled, dropped, parseErrors, cpuBreaks atomic.Int64
}

type runner struct {
	env      Env
	log      io.Writer
	client   *agent.Client
	settings agent.Settings
	cfg      *agent.Config
	started  time.Time
	c        counters
	queue    *ship.Queue
	names    *peers.Names
	local    atomic.Pointer[map[netip.Addr]bool]
	paused   atomic.Int64 // unix nanos until which capture pauses
	stopOnce sync.Once
	stopCh   chan struct{}
	stopAt   time.Time // set before stopCh closes
	reason   atomic.Value
	kick     chan struct{}
}

// Run runs live mode until stopped; it returns the exit code.
func Run(ctx context.Context, env Env, log io.Writer) int {
	r := &runner{env: env, log: log, client: agent.New(env.AgentURL, env.Instance, env.Secret), started: time.Now().UTC(),
		stopCh: make(chan struct{}), kick: make(chan struct{}, 1)}
	cfg, code, ok := r.fetchConfig(ctx)
	if !ok {
		return code
	}
	r.cfg = cfg
	r.settings = agent.DefaultSettings
	if cfg.Capture != nil {
		r.settings = *cfg.Capture
	}
	r.settings = r.settings.Normalize()
	if cfg.Stop {
		r.logf("the agent says stop (%s) before capture started", deref(cfg.StopReason))
		r.report(ctx, "terminated", nil, intp(0), false)
		return 0
	}
	expires := env.ExpiresAt
	if cfg.ExpiresAt != nil {
		expires = cfg.ExpiresAt
	}
	filter := cfg.CaptureFilter
	// The Whisperer's filter is checked alone, so the message quotes what the user wrote.
	if err := capture.CheckFilter(filter, 262144); err != nil {
		r.logf("%v", err)
		r.report(ctx, "failed", strp(err.Error()), intp(2), false)
		return 2
	}
	src, err := capture.OpenLive(capture.LiveOptions{Device: env.Device, Filter: effectiveFilter(filter, env.AgentURL, resolveHost)})
	if err != nil {
		var fe *capture.FilterError
		code := 1
		if errors.As(err, &fe) {
			code = 2
		}
		r.logf("%v", err)
		r.report(ctx, "failed", strp(err.Error()), intp(code), false)
		return code
	}
	r.queue = ship.NewQueue(queueBytes)
	r.names = peers.New(env.DNS)
	r.refreshLocal()
	r.logf("capturing on %s with filter %q (body cap %d, %d exchanges/s, %.2f cores, flush %d ms)",
		orAny(env.Device), filter, r.settings.BodyCapBytes, r.settings.MaxExchangesPerSecond, r.settings.MaxCPUCores, r.settings.FlushIntervalMs)
	r.report(ctx, "running", nil, nil, true)

	bg, cancelBg := context.WithCancel(context.Background())
	defer cancelBg()
	debug.SetMemoryLimit(memoryLimit)
	debug.SetGCPercent(gcPercent)
	exCh := make(chan []*exchange.Exchange, channelSize)
	flowCh := make(chan []exchange.Flow, 16)
	encDone := make(chan struct{})
	go r.encode(exCh, flowCh, encDone)
	senderDone := make(chan struct{})
	go r.send(bg.Done(), senderDone)
	go r.pollStop(bg)
	go r.watchCPU(bg)
	go r.reportStats(bg)
	if expires != nil {
		go func() {
			select {
			case <-time.After(time.Until(*expires)):
				r.stop("expired")
			case <-bg.Done():
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			r.stop("signal")
		case <-bg.Done():
		}
	}()

	r.capture(src, exCh, flowCh)
	src.Close()
	close(exCh)
	close(flowCh)
	<-encDone
	reason, _ := r.reason.Load().(string)
	r.logf("stopping (%s): %d exchanges, %d sampled, %d dropped at the hand-off, %d dropped from the queue, %d kernel drops",
		reason, r.c.exchanges.Load(), r.c.sampled.Load(), r.c.dropped.Load(), r.queueDropped(), r.c.kernelDrops.Load())
	if reason != "deleted" {
		r.report(context.Background(), "stopping", nil, nil, true)
	}
	cancelBg()
	<-senderDone
	r.flush()
	if reason != "deleted" {
		r.report(context.Background(), "terminated", nil, intp(0), true)
	}
	return 0
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "%s spider-whisperer: %s\n", time.Now().UTC().Format(exchange.TimeLayout), fmt.Sprintf(format, args...))
}

func (r *runner) stop(reason string) {
	r.stopOnce.Do(func() {
		r.stopAt = time.Now()
		r.reason.Store(reason)
		close(r.stopCh)
	})
}

func (r *runner) stopping() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

// fetchConfig retries until the agent answers (503: after Retry-After; unreachable:
// backoff 1 s doubling to 30 s). ok false: exit with code.
func (r *runner) fetchConfig(ctx context.Context) (*agent.Config, int, bool) {
	backoff := time.Second
	for {
		cfg, err := r.client.Config(ctx)
		if err == nil {
			return cfg, 0, true
		}
		if errors.Is(err, agent.ErrGone) {
			r.logf("%v: exiting", err)
			return nil, 0, false
		}
		wait := backoff
		var re *agent.RetryError
		if errors.As(err, &re) && re.After > 0 {
			wait = re.After
		} else {
			backoff = min(backoff*2, maxBackoff)
		}
		if r.env.ExpiresAt != nil && time.Now().Add(wait).After(*r.env.ExpiresAt) {
			r.logf("configuration: %v; expired before the agent answered", err)
			return nil, 0, false
		}
		r.logf("configuration: %v (retry in %s)", err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, 0, false
		}
	}
}

func (r *runner) stats() *exchange.Stats {
	return &exchange.Stats{
		StartedAt:   r.started,
		Packets:     r.c.packets.Load(),
		KernelDrops: r.c.kernelDrops.Load(),
		Bytes:       r.c.bytes.Load(),
		Exchanges:   r.c.exchanges.Load(),
		Sampled:     r.c.sampled.Load(),
		Dropped:     r.c.dropped.Load() + r.queueDropped(),
		ParseErrors: r.c.parseErrors.Load(),
		CPUBreaks:   r.c.cpuBreaks.Load(),
	}
}

func (r *runner) queueDropped() int64 {
	if r.queue == nil {
		return 0
	}
	return r.queue.Dropped()
}

func (r *runner) report(ctx context.Context, state string, msg *string, code *int, withStats bool) {
	s := agent.State{State: state, Message: msg, ExitCode: code}
	if withStats {
		s.Stats = r.stats()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.client.Report(ctx, s); err != nil {
		r.logf("state %s: %v", state, err)
	}
}

func (r *runner) refreshLocal() {
	m := map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				m[p.Addr().Unmap()] = true
			}
		}
	}
	r.local.Store(&m)
}

func (r *runner) isLocal(a netip.Addr) bool { return (*r.local.Load())[a] }

// source is a live capture (capture.Live).
type source interface {
	Next() ([]byte, time.Time, error) // capture.ErrTimeout: nothing within the read timeout
	LinkType() layers.LinkType
	Drops() (int64, error)
}

// capture is the hot loop: frames → engine → exchanges, on one goroutine.
func (r *runner) capture(src source, exCh chan<- []*exchange.Exchange, flowCh chan<- []exchange.Flow) {
	limiter := ship.NewLimiter(r.settings.MaxExchangesPerSecond)
	// Exchanges go to the encoder in slices: one wake-up per slice, not per exchange.
	var out []*exchange.Exchange
	var lastHand time.Time
	// The limiter's clock: the newest packet stamp or loop time seen, never going back.
	// A time.Now per exchange (a vDSO clock read) was ~3 % of the process at 25k req/s;
	// a packet's stamp is the kernel's wall clock at capture, which is what a rate of
	// exchanges is about anyway.
	clock := time.Now()
	advance := func(t time.Time) {
		if t.After(clock) {
			clock = t
		}
	}
	hand := func() {
		lastHand = time.Now()
		if len(out) == 0 {
			return
		}
		select {
		case exCh <- out:
		default:
			r.c.dropped.Add(int64(len(out))) // the encoder is behind: counted, never silent
		}
		out = make([]*exchange.Exchange, 0, handOff)
	}
	ids := runid.New()
	r.logf("run %s", ids.Run())
	redactor := redact.New(r.settings.RedactHeaders)
	eng := engine.New(engine.Config{BodyCap: r.settings.BodyCapBytes, Redactor: redactor, Local: r.isLocal}, func(x *exchange.Exchange) {
		r.c.exchanges.Add(1)
		if !limiter.Allow(clock) {
			r.c.sampled.Add(1)
			return
		}
		x.ID = ids.Next()
		x.AttachmentID, x.Container = r.cfg.AttachmentID, r.env.Instance
		x.Pod, x.Namespace = r.cfg.Pod.Name, r.cfg.Pod.Namespace
		if x.Pod == "" {
			x.Pod, x.Namespace = r.env.PodName, r.env.PodNamespace
		}
		if x.AttachmentID == "" {
			x.AttachmentID = r.env.AttachmentID
		}
		out = append(out, x)
		if len(out) >= handOff {
			hand()
		}
	})
	lt := src.LinkType()
	var lastPublish, lastLocal time.Time
	publish := func(now time.Time, final bool) {
		r.c.packets.Store(eng.Counters.Packets)
		r.c.bytes.Store(eng.Counters.Bytes)
		r.c.parseErrors.Store(eng.Counters.ParseErrors)
		if d, err := src.Drops(); err == nil {
			r.c.kernelDrops.Store(d)
		}
		var before time.Time
		if !final {
			before = now
		}
		if f := eng.TakeFlows(before); len(f) > 0 {
			flowCh <- f
		}
		lastPublish = now
	}
	n := 0
	for {
		if n&63 == 0 || n < 0 {
			if r.stopping() {
				r.drain(src, eng, lt)
				break
			}
			now := time.Now()
			advance(now)
			if now.Sub(lastHand) >= handOffEvery {
				hand()
			}
			if now.Sub(lastPublish) >= time.Second {
				eng.Tick(now)
				publish(now, false)
				if now.Sub(lastLocal) >= localAddrEvery {
					r.refreshLocal()
					lastLocal = now
				}
			}
			if until := r.paused.Load(); until > now.UnixNano() {
				time.Sleep(min(time.Duration(until-now.UnixNano()), 100*time.Millisecond))
				n = -1 // check again before reading
				continue
			}
		}
		n++
		data, ts, err := src.Next()
		if err != nil {
			if errors.Is(err, capture.ErrTimeout) {
				n = -1
				continue
			}
			r.logf("capture: %v", err)
			r.stop("capture ended")
			break
		}
		advance(ts)
		eng.Packet(lt, data, ts)
	}
	now := time.Now()
	advance(now)
	eng.Close(now)
	publish(now, true)
	exCh <- out // the encoder is draining until the channel closes: this cannot be dropped
}

// drain feeds the engine what the kernel captured before the stop. The ring hands packets
// over a block at a time, when the block is full or its timeout retires it, so at a stop
// the last up to 200 ms of traffic can still wait there; leaving at once lost those
// exchanges with no counter saying so (the bench once reported 99,898 of 100,000 at
// 10,000 req/s with no drops anywhere). It ends at the first read timeout (the ring is
// empty), at the first packet stamped after the stop, or after drainMax.
func (r *runner) drain(src source, eng *engine.Engine, lt layers.LinkType) {
	deadline := r.stopAt.Add(drainMax)
	for i := 0; ; i++ {
		if i&63 == 0 && time.Now().After(deadline) {
			return
		}
		data, ts, err := src.Next()
		if err != nil || ts.After(r.stopAt) {
			return
		}
		eng.Packet(lt, data, ts)
	}
}

// nameWait bounds how long an exchange waits for the first PTR answer about its peers:
// long enough for a loaded DNS proxy, short enough that the live view stays live.
const nameWait = 2 * time.Second

// encode names peers and encodes exchanges into the queue, once per flush interval. An
// exchange whose peer is still being looked up for the first time is held (with those
// after it, to keep the order) until the answer or nameWait, so that the first calls
// from a new peer are not shipped nameless.
func (r *runner) encode(exCh <-chan []*exchange.Exchange, flowCh <-chan []exchange.Flow, done chan<- struct{}) {
	defer close(done)
	interval := time.Duration(r.settings.FlushIntervalMs) * time.Millisecond
	tick := time.NewTicker(min(interval, 250*time.Millisecond))
	defer tick.Stop()
	type held struct {
		x    *exchange.Exchange
		seen time.Time
	}
	var fresh []held
	var buf []byte
	lastFlush := time.Now()
	holding := false // the last flush held exchanges back for a name
	flush := func(final bool) {
		now := time.Now()
		lastFlush = now
		holding = false
		n := 0
		for _, h := range fresh {
			x := h.x
			client, cp := r.names.Lookup(x.Client.IP)
			server, sp := r.names.Lookup(x.Server.IP)
			if (cp || sp) && !final && now.Sub(h.seen) < nameWait && len(fresh) < 8192 {
				holding = true
				break
			}
			x.Client.Name, x.Server.Name = client, server
			buf = exchange.AppendJSON(buf[:0], x)
			if len(buf) > ship.MaxExchangeBytes {
				buf = shrink(buf[:0], x)
			}
			r.queue.Push(buf) // copied into the queue's arena
			n++
		}
		rest := copy(fresh, fresh[n:])
		clear(fresh[rest:])
		fresh = fresh[:rest]
		if n == 0 {
			return
		}
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	for exCh != nil || flowCh != nil {
		select {
		case xs, ok := <-exCh:
			if !ok {
				exCh = nil
				continue
			}
			now := time.Now()
			for _, x := range xs {
				r.names.Name(x.Client.IP) // start the lookups now
				r.names.Name(x.Server.IP)
				fresh = append(fresh, held{x, now})
			}
			if len(fresh) >= 2048 {
				flush(false)
			}
		case fs, ok := <-flowCh:
			if !ok {
				flowCh = nil
				continue
			}
			for _, f := range fs {
				f.Client.Name = r.names.Name(f.Client.IP)
				f.Server.Name = r.names.Name(f.Server.IP)
				r.queue.PushFlow(f)
			}
		case now := <-tick.C:
			// Each flush interval, and sooner once what was held for a name can go.
			if now.Sub(lastFlush) >= interval || holding && len(fresh) > 0 && (now.Sub(fresh[0].seen) >= nameWait || r.named(fresh[0].x)) {
				flush(false)
			}
		}
	}
	flush(true)
}

// named says whether the lookups of both of x's peers have answered.
func (r *runner) named(x *exchange.Exchange) bool {
	_, cp := r.names.Lookup(x.Client.IP)
	_, sp := r.names.Lookup(x.Server.IP)
	return !cp && !sp
}

// shrink re-encodes an exchange too large for a batch without its bodies.
func shrink(dst []byte, x *exchange.Exchange) []byte {
	cut := func(b *exchange.Body) *exchange.Body {
		if b == nil {
			return nil
		}
		return &exchange.Body{Encoding: b.Encoding, Text: "", Truncated: true}
	}
	y := *x
	y.Request.Body = cut(x.Request.Body)
	if x.Response != nil {
		resp := *x.Response
		resp.Body = cut(resp.Body)
		y.Response = &resp
	}
	return exchange.AppendJSON(dst, &y)
}

// send posts batches when the encoder has queued some, and retries as the agent says.
// quit ends it between requests, never during one: a batch cut off after the agent took
// it would be sent again, and flows, unlike exchanges, have no id to dedupe.
func (r *runner) send(quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx := context.Background()
	backoff := time.Second
	interval := time.Duration(r.settings.FlushIntervalMs) * time.Millisecond
	for {
		select {
		case <-quit:
			return
		case <-r.kick:
		case <-time.After(interval):
		}
		for {
			wait, more := r.sendOne(ctx)
			if wait != 0 {
				if wait == backOff {
					wait = backoff
				}
				backoff = min(backoff*2, maxBackoff)
				select {
				case <-quit:
					return
				case <-time.After(wait):
				}
				continue
			}
			backoff = time.Second
			if !more {
				break
			}
			select {
			case <-quit:
				return
			default:
			}
		}
	}
}

// backOff is sendOne's answer when the agent gave no Retry-After: wait by your own backoff.
const backOff = time.Duration(-1)

// sendOne posts the next batch; wait != 0: retry after that long (or backOff); more:
// another batch waits.
func (r *runner) sendOne(ctx context.Context) (time.Duration, bool) {
	b, ok := r.queue.Next(r.stats())
	if !ok || b.Exchanges == 0 && b.Flows == 0 {
		return 0, false
	}
	err := r.client.Traffic(ctx, b.Body)
	var re *agent.RetryError
	var rej *agent.RejectedError
	switch {
	case err == nil:
		r.queue.Done(b)
		x, f := r.queue.Len()
		return 0, x+f > 0
	case errors.As(err, &re):
		if ctx.Err() != nil {
			return 0, false
		}
		if re.After > 0 {
			return re.After, true
		}
		return backOff, true
	case errors.Is(err, agent.ErrGone):
		r.logf("traffic: %v: stopping", err)
		r.stop("deleted")
		return 0, false
	case errors.As(err, &rej):
		r.logf("traffic: %v (%d exchanges dropped)", err, b.Exchanges)
		r.queue.Refused(b)
		return 0, true
	default:
		r.logf("traffic: %v", err)
		return backOff, true
	}
}

// flush sends what is left, bounded by finalFlush.
func (r *runner) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), finalFlush)
	defer cancel()
	for ctx.Err() == nil {
		wait, more := r.sendOne(ctx)
		if wait != 0 {
			if wait == backOff {
				wait = 200 * time.Millisecond
			}
			select {
			case <-ctx.Done():
			case <-time.After(min(wait, time.Second)):
			}
			continue
		}
		if !more {
			return
		}
	}
	// Counted, so the terminated report's stats.dropped says so.
	if x, f := r.queue.Abandon(); x+f > 0 {
		r.logf("final flush: %d exchanges and %d flows not delivered (counted as dropped)", x, f)
	}
}

// pollStop follows the stop long-poll.
func (r *runner) pollStop(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil && !r.stopping() {
		stop, reason, err := r.client.WaitStop(ctx, stopWait)
		if err == nil {
			backoff = time.Second
			if stop {
				r.stop(reason)
				return
			}
			continue
		}
		if errors.Is(err, agent.ErrGone) {
			r.stop("deleted")
			return
		}
		wait := backoff
		var re *agent.RetryError
		if errors.As(err, &re) && re.After > 0 {
			wait = re.After
		} else {
			backoff = min(backoff*2, maxBackoff)
		}
		if ctx.Err() == nil {
			r.logf("stop poll: %v (retry in %s)", err, wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.stopCh:
			return
		case <-time.After(wait):
		}
	}
}

// watchCPU samples getrusage each second and pauses capture above maxCpuCores.
func (r *runner) watchCPU(ctx context.Context) {
	b := cpubreak.New(r.settings.MaxCPUCores, cpuPause)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if b.Observe(cpubreak.ProcessCPU(), now) {
				r.c.cpuBreaks.Add(1)
				r.paused.Store(now.Add(cpuPause).UnixNano())
				r.logf("CPU %.2f cores over %.2f: capture paused for %s", b.LastCores, r.settings.MaxCPUCores, cpuPause)
			}
		}
	}
}

func (r *runner) reportStats(ctx context.Context) {
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !r.stopping() {
				r.report(ctx, "running", nil, nil, true)
			}
		}
	}
}

func strp(s string) *string { return &s }
func intp(i int) *int       { return &i }
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
func orAny(d string) string {
	if d == "" {
		return capture.AnyDevice
	}
	return d
}
