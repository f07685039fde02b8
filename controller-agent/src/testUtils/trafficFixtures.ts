import type {
  CapturedExchange,
  TrafficFlow,
} from '@spider/backstage-plugin-spider-common';

/** Test data: one exchange of the instance shop/web-1/spider-att1, with a body of `bodyChars`. */
export function exchange(
  id: string,
  bodyChars = 0,
  over: Partial<CapturedExchange> = {},
): CapturedExchange {
  return {
    id,
    attachmentId: 'att1',
    container: 'spider-att1',
    pod: 'web-1',
    namespace: 'shop',
    protocol: 'http/1.1',
    direction: 'inbound',
    startedAt: '2026-12-01T10:00:00.000Z',
    durationMs: 3.5,
    client: { ip: '10.0.0.9', port: 40000, name: null },
    server: { ip: '10.0.0.2', port: 80, name: 'web-1.shop' },
    request: {
      method: 'GET',
      path: `/items/${id}`,
      authority: 'web',
      headers: [['accept', '*/*']],
      bodySize: 0,
      body: null,
    },
    response: {
      status: 200,
      headers: [['content-type', 'text/plain']],
      trailers: [],
      bodySize: bodyChars,
      body: bodyChars
        ? { encoding: 'utf8', text: 'x'.repeat(bodyChars), truncated: false }
        : null,
    },
    grpc: null,
    error: null,
    ...over,
  };
}

export function flow(minute = '2026-12-01T10:00:00Z'): TrafficFlow {
  return {
    minute,
    direction: 'outbound',
    client: { ip: '10.0.0.2', port: 0, name: null },
    server: { ip: '10.0.0.7', port: 5432, name: 'db-0.shop' },
    bytesToServer: 100,
    bytesToClient: 2000,
    connections: 1,
  };
}

export const STATS = {
  startedAt: '2026-12-01T09:59:00.000Z',
  packets: 1200,
  kernelDrops: 0,
  bytes: 90_000,
  exchanges: 40,
  sampled: 0,
  dropped: 0,
  parseErrors: 0,
  cpuBreaks: 0,
};
