import { InstanceSecrets } from '../whisperers/instanceSecret';
import {
  buildWhispererContainer,
  ephemeralContainerPatch,
} from './whispererContainer';

const attachment = {
  id: 'att-1',
  target: { namespace: 'shop', kind: 'Deployment' as const, name: 'web' },
  whisperer: {
    id: 'w1',
    name: 'http',
    image: null,
    captureFilter: 'tcp port 80',
    env: {
      VERBOSE: '1',
      SPIDER_ATTACHMENT_ID: 'evil',
      SPIDER_INSTANCE_SECRET: 'chosen-by-the-whisperer-author',
      'bad name': 'x',
    },
  },
  expiresAt: '2026-05-01T13:00:00.000Z',
};
const secrets = InstanceSecrets.fromToken('spd_agent-token');
const build = (processAccess = false, podUid = 'uid-1', key = secrets) =>
  buildWhispererContainer({
    attachment,
    container: 'spider-att1',
    podUid,
    generation: 0,
    targetContainer: 'app',
    processAccess,
    defaultImage: 'spider/whisperer:1',
    endpoints: {
      agentUrl: 'http://10.0.0.5:8081',
      dns: '10.0.0.5:5353',
      secrets: key,
    },
  }) as any;

describe('buildWhispererContainer', () => {
  const c = build();
  const env = Object.fromEntries(
    c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]),
  );

  it('runs with NET_RAW only: all else dropped, no escalation, read-only root, RuntimeDefault seccomp', () => {
    expect(c.securityContext).toEqual({
      capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: false,
      runAsUser: 0,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c).toMatchObject({
      name: 'spider-att1',
      image: 'spider/whisperer:1',
    });
  });
  it("shares only the pod's network unless process access was granted", () => {
    expect(c).not.toHaveProperty('targetContainerName');
    expect(build(true).targetContainerName).toBe('app');
    expect(build(true).securityContext).toEqual(c.securityContext);
  });
  it('is the same object every time (an idempotent PATCH), and callers cannot change the shared context', () => {
    const again = build();
    expect(JSON.stringify(again)).toBe(JSON.stringify(c));
    again.securityContext.capabilities.add.push('SYS_ADMIN');
    expect(build().securityContext.capabilities.add).toEqual(['NET_RAW']);
    expect(ephemeralContainerPatch(c, 'uid-1')).toEqual({
      metadata: { uid: 'uid-1' },
      spec: { ephemeralContainers: [c] },
    });
  });
  it('carries none of the fields ephemeral containers may not have', () => {
    for (const f of [
      'ports',
      'resources',
      'livenessProbe',
      'readinessProbe',
      'startupProbe',
      'lifecycle',
    ]) {
      expect(c).not.toHaveProperty(f);
    }
  });
  it('tells the whisperer its attachment, deadline and the agent endpoints; ours win', () => {
    expect(env).toMatchObject({
      SPIDER_ATTACHMENT_ID: 'att-1',
      SPIDER_INSTANCE: 'spider-att1',
      SPIDER_CAPTURE_FILTER: 'tcp port 80',
      SPIDER_EXPIRES_AT: '2026-05-01T13:00:00.000Z',
      SPIDER_AGENT_URL: 'http://10.0.0.5:8081',
      SPIDER_DNS: '10.0.0.5:5353',
      SPIDER_TARGET_CONTAINER: 'app',
      VERBOSE: '1',
    });
    expect(
      c.env.filter((e: any) => e.name === 'SPIDER_ATTACHMENT_ID'),
    ).toHaveLength(1);
    expect(env['bad name']).toBeUndefined();
  });
  it('gives each instance its own secret, derived so that a re-send (or a restarted agent) gives the same', () => {
    expect(env.SPIDER_INSTANCE_SECRET).toBe(
      secrets.secretFor('uid-1', 'spider-att1'),
    );
    expect(
      c.env.filter((e: any) => e.name === 'SPIDER_INSTANCE_SECRET'),
    ).toHaveLength(1);
    const secretOf = (x: any) =>
      x.env.find((e: any) => e.name === 'SPIDER_INSTANCE_SECRET').value;
    // An agent restarted with the same token derives the same key.
    expect(
      secretOf(
        build(false, 'uid-1', InstanceSecrets.fromToken('spd_agent-token')),
      ),
    ).toBe(env.SPIDER_INSTANCE_SECRET);
    expect(secretOf(build(false, 'uid-2'))).not.toBe(
      env.SPIDER_INSTANCE_SECRET,
    );
  });
});
