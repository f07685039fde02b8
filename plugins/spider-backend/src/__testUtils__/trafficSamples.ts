import {
  CapturedExchange,
  StoredExchange,
} from '@spider/backstage-plugin-spider-common';

/** A captured exchange as a whisperer sends it: an inbound GET answered 200. */
export function capturedExchange(
  overrides: Partial<CapturedExchange> = {},
): CapturedExchange {
  return {
    id: 'run1.1',
    attachmentId: '',
    container: 'spider-0',
    pod: 'web-0',
    namespace: 'team-a',
    protocol: 'http/1.1',
    direction: 'inbound',
    startedAt: '2026-12-01T10:00:00.000Z',
    durationMs: 12.5,
    client: {
      ip: '10.1.0.7',
      port: 40_000,
      name: 'client-0.client.deployment.team-a.pod.cluster.local',
    },
    server: { ip: '10.1.0.5', port: 8080, name: null },
    request: {
      method: 'GET',
      path: '/orders?id=7&q=a+b',
      authority: 'web.team-a:8080',
      headers: [
        ['host', 'web.team-a:8080'],
        ['authorization', '[redacted]'],
        ['accept', 'application/json'],
      ],
      bodySize: 0,
      body: null,
    },
    response: {
      status: 200,
      headers: [
        ['content-type', 'application/json'],
        ['set-cookie', '[redacted]'],
      ],
      trailers: [],
      bodySize: 11,
      body: { encoding: 'utf8', text: '{"ok":true}', truncated: false },
    },
    grpc: null,
    error: null,
    ...overrides,
  };
}

/** The same as the REST API answers it. */
export function storedExchange(
  overrides: Partial<StoredExchange> = {},
): StoredExchange {
  return {
    ...capturedExchange(),
    id: '1',
    attachmentId: '0b7e8c3e-1f2a-4c3d-9e8f-0123456789ab',
    controllerId: '1c7e8c3e-1f2a-4c3d-9e8f-0123456789ab',
    storedAt: '2026-12-01T10:00:01.000Z',
    target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
    ...overrides,
  };
}
