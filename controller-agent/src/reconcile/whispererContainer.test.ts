import { buildWhispererContainer } from './whispererContainer';

const attachment = {
  id: 'att-1',
  target: { namespace: 'shop', kind: 'Deployment' as const, name: 'web' },
  whisperer: { id: 'w1', name: 'http', image: null, captureFilter: 'tcp port 80', env: { VERBOSE: '1', SPIDER_ATTACHMENT_ID: 'evil', 'bad name': 'x' } },
  expiresAt: '2026-05-01T13:00:00.000Z',
};

describe('buildWhispererContainer', () => {
  const c = buildWhispererContainer({
    attachment, container: 'spider-att1', generation: 0, targetContainer: 'app',
    defaultImage: 'spider/whisperer:1', endpoints: { agentUrl: 'http://10.0.0.5:8081', dns: '10.0.0.5:5353' },
  }) as any;
  const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

  it('targets the container, uses the default image and adds capture capabilities', () => {
    expect(c).toMatchObject({ name: 'spider-att1', image: 'spider/whisperer:1', targetContainerName: 'app' });
    expect(c.securityContext.capabilities.add).toEqual(['NET_RAW', 'NET_ADMIN']);
  });
  it('carries none of the fields ephemeral containers may not have', () => {
    for (const f of ['ports', 'resources', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']) {
      expect(c).not.toHaveProperty(f);
    }
  });
  it('tells the whisperer its attachment, deadline and the agent endpoints; ours win', () => {
    expect(env).toMatchObject({
      SPIDER_ATTACHMENT_ID: 'att-1', SPIDER_INSTANCE: 'spider-att1', SPIDER_CAPTURE_FILTER: 'tcp port 80',
      SPIDER_EXPIRES_AT: '2026-05-01T13:00:00.000Z', SPIDER_AGENT_URL: 'http://10.0.0.5:8081', SPIDER_DNS: '10.0.0.5:5353', VERBOSE: '1',
    });
    expect(c.env.filter((e: any) => e.name === 'SPIDER_ATTACHMENT_ID')).toHaveLength(1);
    expect(env['bad name']).toBeUndefined();
  });
});
