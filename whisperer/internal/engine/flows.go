package engine

import (
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// flowKey is one peer pair in one minute (the client's port is not part of a pair).
type flowKey struct {
	minute int64
	client [16]byte
	server [16]byte
	port   uint16
}

type flowTable struct {
	max     int
	m       map[flowKey]*exchange.Flow
	Dropped int64 // packets not counted because the table was full
}

// countFlow adds a packet of a non-HTTP connection to its minute's flow.
func (c *conn) countFlow(fromA bool, n int, ts time.Time) {
	minute := ts.Unix() / 60
	if c.flow == nil || c.flowMin != minute {
		ca, sa := c.key.a, c.key.b
		if !c.clientIsA {
			ca, sa = sa, ca
		}
		k := flowKey{minute: minute, client: ca, server: sa, port: uint16(c.server.Port)}
		f := c.e.flows.m[k]
		if f == nil {
			if len(c.e.flows.m) >= c.e.flows.max {
				c.e.flows.Dropped++
				return
			}
			f = &exchange.Flow{Minute: time.Unix(minute*60, 0).UTC(), Direction: c.direction,
				Client: exchange.Endpoint{IP: c.client.IP}, Server: c.server}
			c.e.flows.m[k] = f
		}
		c.flow, c.flowMin = f, minute
	}
	if !c.counted {
		// Connections opened (SYN seen) in this minute; a joined one counts where first seen.
		c.counted = true
		c.flow.Connections++
	}
	if fromA == c.clientIsA {
		c.flow.BytesToServer += int64(n)
	} else {
		c.flow.BytesToClient += int64(n)
	}
}

// TakeFlows removes and returns the flows of minutes before `before` (all when zero).
func (e *Engine) TakeFlows(before time.Time) []exchange.Flow {
	var out []exchange.Flow
	limit := before.Unix() / 60
	for k, f := range e.flows.m {
		if before.IsZero() || k.minute < limit {
			out = append(out, *f)
			delete(e.flows.m, k)
		}
	}
	if len(out) > 0 {
		for _, c := range e.conns {
			if c.flow != nil && (before.IsZero() || c.flowMin < limit) {
				c.flow = nil
			}
		}
	}
	return out
}
