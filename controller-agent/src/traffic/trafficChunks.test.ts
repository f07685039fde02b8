import { exchange, flow } from '../testUtils/trafficFixtures';
import { chunkTraffic } from './trafficChunks';

describe('chunkTraffic', () => {
  it('returns no chunk for an empty batch', () => {
    expect(chunkTraffic([], [])).toEqual([]);
  });

  it('splits by bytes and by count, keeping order, exchanges before flows', () => {
    const xs = Array.from({ length: 10 }, (_, i) => exchange(`x.${i}`, 500));
    const one = Buffer.byteLength(JSON.stringify(xs[0])) + 1;
    const chunks = chunkTraffic(xs, [flow(), flow('2026-12-01T10:01:00Z')], {
      maxBytes: one * 3,
      maxExchanges: 2000,
      maxFlows: 1,
    });
    expect(
      chunks.map(
        c =>
          `${c.exchanges.map(x => x.id.slice(2)).join('')}|${c.flows.length}`,
      ),
    ).toEqual(['012|0', '345|0', '678|0', '9|1', '|1']);
    for (const c of chunks) expect(c.bytes).toBeLessThanOrEqual(one * 3);
    expect(chunks[3].flowBytes).toBe(
      Buffer.byteLength(JSON.stringify(flow())) + 1,
    );
    expect(
      chunkTraffic(xs, [], { maxBytes: 1e9, maxExchanges: 4, maxFlows: 1 }).map(
        c => c.exchanges.length,
      ),
    ).toEqual([4, 4, 2]);
  });
});
