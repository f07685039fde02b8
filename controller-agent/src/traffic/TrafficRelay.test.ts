import {
  AGENT_PROTOCOL_LIMITS,
  TrafficMessage,
  trafficMessageSchema,
} from '@spider/backstage-plugin-spider-common';
import { exchange, flow, STATS } from '../testUtils/trafficFixtures';
import { TrafficLink, TrafficRelay, TrafficSendResult } from './TrafficRelay';

const WEB1 = {
  attachmentId: 'att1',
  namespace: 'shop',
  pod: 'web-1',
  container: 'spider-att1',
};
const WEB2 = {
  attachmentId: 'att1',
  namespace: 'shop',
  pod: 'web-2',
  container: 'spider-att1',
};
const batch = (
  ids: string[],
  bodyChars = 0,
  over: Partial<TrafficMessage> = {},
) => ({
  exchanges: ids.map(id =>
    exchange(id, bodyChars, { pod: over.pod ?? 'web-1' }),
  ),
  flows: [],
  stats: null,
});

/** A socket stand-in: records what it is given; the test decides when it is up and how full. */
class FakeLink implements TrafficLink {
  up = true;
  buffered = 0;
  /** Bytes each send adds to `buffered` (a slow socket). */
  growBy = 0;
  written: Array<(error?: Error) => void> = [];
  messages: TrafficMessage[] = [];
  sizes: number[] = [];
  valid: boolean[] = [];
  canSendTraffic() {
    return this.up;
  }
  bufferedAmount() {
    return this.buffered;
  }
  sendTraffic(
    message: TrafficMessage,
    written: (error?: Error) => void,
  ): TrafficSendResult {
    if (!this.up) return 'notConnected';
    const text = JSON.stringify(message);
    // What the backend checks: every message valid (recorded, asserted by the tests).
    this.valid.push(trafficMessageSchema.safeParse(JSON.parse(text)).success);
    this.sizes.push(Buffer.byteLength(text));
    this.messages.push(message);
    this.written.push(written);
    this.buffered += this.growBy;
    return 'sent';
  }
  ids(pod?: string) {
    return this.messages
      .filter(m => !pod || m.pod === pod)
      .flatMap(m => m.exchanges.map(x => x.id));
  }
}

describe('TrafficRelay', () => {
  let clock: number;
  let link: FakeLink;
  const relay = (
    over: Partial<ConstructorParameters<typeof TrafficRelay>[0]> = {},
  ) => {
    const r = new TrafficRelay({
      maxBufferBytes: 64 * 1024 * 1024,
      agentRun: 'run-1',
      now: () => clock,
      ...over,
    });
    r.attach(link);
    return r;
  };
  beforeEach(() => {
    clock = 1_000_000;
    link = new FakeLink();
  });

  it('relays each instance in order, with a seq per instance and the agent run', () => {
    const r = relay();
    r.offer(WEB1, batch(['a.1', 'a.2']));
    r.offer(WEB2, batch(['b.1'], 0, { pod: 'web-2' }));
    r.offer(WEB1, batch(['a.3']));
    expect(link.ids('web-1')).toEqual(['a.1', 'a.2', 'a.3']);
    expect(link.ids('web-2')).toEqual(['b.1']);
    expect(link.messages.map(m => `${m.pod}:${m.seq}`)).toEqual([
      'web-1:0',
      'web-2:0',
      'web-1:1',
    ]);
    expect(
      link.messages.every(
        m =>
          m.agentRun === 'run-1' &&
          m.attachmentId === 'att1' &&
          m.container === 'spider-att1',
      ),
    ).toBe(true);
    r.close();
  });

  it('chunks a batch under the message cap and the 2000-exchange limit', () => {
    const r = relay();
    // ~1 MiB of 600 exchanges with 1.7 KB bodies twice, and 4500 small ones: several messages.
    r.offer(
      WEB1,
      batch(
        Array.from({ length: 600 }, (_, i) => `big.${i}`),
        1700,
      ),
    );
    r.offer(
      WEB1,
      batch(
        Array.from({ length: 600 }, (_, i) => `big2.${i}`),
        1700,
      ),
    );
    r.offer(WEB1, batch(Array.from({ length: 4500 }, (_, i) => `s.${i}`)));
    expect(Math.max(...link.sizes)).toBeLessThanOrEqual(
      AGENT_PROTOCOL_LIMITS.maxTrafficMessageBytes,
    );
    expect(link.valid.every(Boolean)).toBe(true);
    expect(
      Math.max(...link.messages.map(m => m.exchanges.length)),
    ).toBeLessThanOrEqual(2000);
    expect(link.messages.length).toBeGreaterThanOrEqual(5);
    expect(link.ids()).toEqual([
      ...Array.from({ length: 600 }, (_, i) => `big.${i}`),
      ...Array.from({ length: 600 }, (_, i) => `big2.${i}`),
      ...Array.from({ length: 4500 }, (_, i) => `s.${i}`),
    ]);
    expect(link.messages.map(m => m.seq)).toEqual(
      link.messages.map((_, i) => i),
    );
    r.close();
  });

  it('buffers within its byte bound while the backend is away, drops the oldest, and the counts reach the next message', () => {
    link.up = false;
    const max = 40 * 1024;
    const r = relay({
      maxBufferBytes: max,
      chunkLimits: { maxBytes: 8 * 1024, maxExchanges: 2000, maxFlows: 2000 },
    });
    for (let i = 0; i < 20; i++) {
      expect(r.offer(WEB1, batch([`x.${i}`], 3000))).toEqual({
        ok: true,
        accepted: 1,
      });
      expect(r.stats().bufferBytes).toBeLessThanOrEqual(max);
    }
    const dropped = r.stats().droppedExchanges;
    expect(dropped).toBeGreaterThan(0);
    expect(r.relayStatsOf(WEB1)).toMatchObject({ droppedExchanges: dropped });
    expect(link.messages).toHaveLength(0);

    link.up = true;
    r.linkUp();
    // The newest survived, in order; the oldest went.
    expect(link.ids()).toEqual(
      Array.from({ length: 20 - dropped }, (_, i) => `x.${i + dropped}`),
    );
    expect(link.messages[0].relay).toEqual({
      droppedExchanges: dropped,
      droppedBytes: expect.any(Number),
      rateLimited: 0,
    });
    expect(link.messages[0].relay.droppedBytes).toBeGreaterThan(dropped * 3000);
    r.close();
  });

  it('sends nothing until the backend announced traffic (the link says so)', () => {
    link.up = false; // connected to an older backend: no 'traffic' in its welcome
    const r = relay();
    r.offer(WEB1, batch(['a.1']));
    r.updateStats(WEB1, STATS);
    expect(link.messages).toHaveLength(0);
    link.up = true;
    r.linkUp();
    expect(link.ids()).toEqual(['a.1']);
    expect(link.messages[0].stats).toEqual(STATS);
    r.close();
  });

  it('does not push into a slow socket, and refuses batches (503) instead of dropping while the backend drains', async () => {
    link.growBy = 400 * 1024;
    const r = relay({
      maxBufferBytes: 5 * 1024 * 1024,
      highWaterBytes: 512 * 1024,
    });
    for (let i = 0; i < 4; i++)
      r.offer(
        WEB1,
        batch(
          Array.from({ length: 300 }, (_, j) => `p${i}.${j}`),
          1700,
        ),
      );
    // Two messages fit under the high-water mark; the rest waits.
    expect(link.messages).toHaveLength(2);
    let refused = 0;
    for (let i = 4; i < 20; i++)
      if (
        !r.offer(
          WEB1,
          batch(
            Array.from({ length: 300 }, (_, j) => `p${i}.${j}`),
            1700,
          ),
        ).ok
      )
        refused++;
    expect(refused).toBeGreaterThan(0);
    expect(r.stats()).toMatchObject({
      droppedExchanges: 0,
      refusedFull: refused,
    });
    expect(r.stats().bufferBytes).toBeLessThanOrEqual(5 * 1024 * 1024);

    // The socket drains: writing completes, the relay sends the rest in order.
    link.growBy = 0;
    link.buffered = 0;
    for (const w of link.written.splice(0)) w();
    await new Promise(res => setImmediate(res));
    const ids = link.ids();
    expect(ids.length).toBe((20 - refused) * 300);
    expect(ids).toEqual(
      [...ids].sort((x, y) => {
        const [bx, jx] = x.slice(1).split('.').map(Number);
        const [by, jy] = y.slice(1).split('.').map(Number);
        return bx - by || jx - jy;
      }),
    );
    r.close();
  });

  it('sends new stats and rate-limit counts alone when there is no traffic, at most once per interval', () => {
    const r = relay({ statsIntervalMs: 5000 });
    r.updateStats(WEB1, STATS);
    expect(link.messages).toHaveLength(1);
    expect(link.valid).toEqual([true]);
    expect(link.messages[0]).toMatchObject({
      exchanges: [],
      flows: [],
      stats: STATS,
      relay: { rateLimited: 0 },
    });
    r.updateStats(WEB1, { ...STATS, packets: 2000 });
    r.countRateLimited(WEB1);
    expect(link.messages).toHaveLength(1);
    clock += 5000;
    r.linkUp();
    expect(link.messages).toHaveLength(2);
    expect(link.messages[1]).toMatchObject({
      seq: 1,
      stats: { packets: 2000 },
      relay: { rateLimited: 1 },
    });
    // Nothing new: nothing sent.
    clock += 10_000;
    r.linkUp();
    expect(link.messages).toHaveLength(2);
    // Traffic carries the newest stats with it, and null when they did not change.
    r.offer(WEB1, { ...batch(['a.1']), stats: { ...STATS, packets: 3000 } });
    r.offer(WEB1, batch(['a.2']));
    expect(link.messages.slice(2).map(m => m.stats?.packets ?? null)).toEqual([
      3000,
      null,
    ]);
    r.close();
  });

  it('sends the replay window again after a reconnect with the first seqs, flows included, and the stats after it', () => {
    const r = relay({ replayWindowMs: 30_000, statsIntervalMs: 5000 });
    r.offer(WEB1, {
      exchanges: [exchange('a.1')],
      flows: [flow()],
      stats: STATS,
    });
    r.offer(WEB1, {
      exchanges: [exchange('a.2')],
      flows: [flow()],
      stats: null,
    });
    // Both left the process; the backend could not store the first (it closes with
    // trafficNotStored and handles nothing after it), so both must come again, flows too.
    link.written[0]();
    link.written[1]();
    clock += 1000;
    link.up = false;
    r.linkDown();
    link.up = true;
    r.linkUp();
    const replay = link.messages.slice(2);
    expect(
      replay.map(m => [m.seq, m.exchanges.map(x => x.id), m.flows.length]),
    ).toEqual([
      [0, ['a.1'], 1],
      [1, ['a.2'], 1],
    ]);
    expect(link.valid).toEqual([true, true, true, true]);
    // The backend ignores the stats of a seq it applied: they wait for a new seq.
    expect(replay.map(m => m.stats)).toEqual([null, null]);
    expect(r.stats().replayedExchanges).toBe(2);
    clock += 5000;
    r.linkUp();
    expect(link.messages).toHaveLength(5);
    expect(link.messages[4]).toMatchObject({ seq: 2, stats: STATS });
    // New traffic continues the seqs.
    r.offer(WEB1, batch(['a.3']));
    expect(link.messages[5].seq).toBe(3);

    // Older than the window: not sent again.
    clock += 31_000;
    link.up = false;
    r.linkDown();
    link.up = true;
    r.linkUp();
    expect(link.messages).toHaveLength(6);
    expect(r.stats().bufferBytes).toBe(0);
    r.close();
  });

  it('at shutdown refuses new traffic, sends what it holds while it can, and says what is left', async () => {
    link.growBy = 600 * 1024;
    const r = relay({ highWaterBytes: 512 * 1024 });
    for (let i = 0; i < 3; i++)
      r.offer(
        WEB1,
        batch(
          Array.from({ length: 300 }, (_, j) => `q${i}.${j}`),
          1700,
        ),
      );
    expect(link.messages).toHaveLength(1);
    const flushing = r.closeAndFlush(1000);
    expect(r.offer(WEB1, batch(['late.1']))).toEqual({
      ok: false,
      reason: 'closed',
    });
    link.buffered = 0; // the socket drains once
    expect(await flushing).toBe(300);
    expect(link.ids()).toHaveLength(600);
    expect(r.isClosed).toBe(true);
  });

  it('refuses traffic once closed', () => {
    const r = relay();
    r.close();
    expect(r.offer(WEB1, batch(['a.1']))).toEqual({
      ok: false,
      reason: 'closed',
    });
  });
});
