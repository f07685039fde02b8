import {
  DesiredAttachment,
  parseImagePatterns,
  whispererContainerName,
} from '@spider/backstage-plugin-spider-common';
import type { LeanPod, LeanWhisperer } from '../cluster/lean';
import {
  DesiredEntry,
  injectKey,
  Observed,
  planReconcile,
  reportKey,
} from './plan';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const C0 = whispererContainerName('att-1');
const C1 = whispererContainerName('att-1', 1);
const C2 = whispererContainerName('att-1', 2);

function attachment(over: Partial<DesiredAttachment> = {}): DesiredAttachment {
  return {
    id: 'att-1',
    target: { namespace: 'shop', kind: 'Deployment', name: 'web' },
    whisperer: {
      id: 'w1',
      name: 'http',
      image: null,
      captureFilter: 'tcp port 80',
      env: {},
    },
    expiresAt: null,
    ...over,
  };
}

function w(name: string, over: Partial<LeanWhisperer> = {}): LeanWhisperer {
  return {
    name,
    state: 'running',
    exitCode: null,
    reason: null,
    startedAt: ago(60_000),
    finishedAt: null,
    ...over,
  };
}
const crashed = (name: string, finishedAgoMs: number, exitCode = 1) =>
  w(name, {
    state: 'terminated',
    exitCode,
    reason: 'Error',
    finishedAt: ago(finishedAgoMs),
  });

function pod(name: string, over: Partial<LeanPod> = {}): LeanPod {
  const whisperers = over.whisperers ?? [];
  return {
    uid: `uid-${name}`,
    namespace: 'shop',
    name,
    phase: 'Running',
    ip: '10.0.0.1',
    node: 'n1',
    owner: { kind: 'ReplicaSet', name: 'web-1' },
    deleting: false,
    mirror: false,
    targetContainer: null,
    containers: ['app', 'sidecar'],
    ephemeral: whisperers.map(x => x.name),
    ...over,
    whisperers,
  };
}

function observed(pods: LeanPod[], over: Partial<Observed> = {}): Observed {
  return {
    scope: { include: '*', exclude: [] },
    podsByAttachment: new Map([['att-1', pods]]),
    failures: new Map(),
    inFlight: new Set(),
    reports: new Map(),
    ...over,
  };
}

const images = {
  allowed: parseImagePatterns(['spider/whisperer:*', 'reg.example/team/*'])
    .patterns,
  defaultImage: 'spider/whisperer:0.1.0',
};
const withImage = (image: string | null) =>
  attachment({ whisperer: { ...attachment().whisperer, image } });

const live = (a = attachment()): DesiredEntry[] => [
  { attachment: a, stopped: null },
];

interface Row {
  name: string;
  desired?: DesiredEntry[];
  pods: LeanPod[];
  observed?: Partial<Observed>;
  /** Expected actions as compact strings: `inject pod container target` / `expire id`. */
  actions: string[];
  phase: string;
  /** Expected instances as `pod:state:reason`. */
  instances: string[];
  message?: RegExp;
}

const rows: Row[] = [
  {
    name: 'running pod without whisperer → inject generation 0 into the first container',
    pods: [pod('a')],
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'every pod of the target gets one',
    pods: [pod('a'), pod('b'), pod('c')],
    actions: [`inject a ${C0} app`, `inject b ${C0} app`, `inject c ${C0} app`],
    phase: 'active',
    instances: [
      'a:pending:Injecting',
      'b:pending:Injecting',
      'c:pending:Injecting',
    ],
  },
  {
    name: 'already injected and running → nothing to do (resync, replay, restart)',
    pods: [pod('a', { whisperers: [w(C0)] })],
    actions: [],
    phase: 'active',
    instances: ['a:running:Running'],
  },
  {
    name: 'in the spec without status yet → nothing to do, pending',
    pods: [
      pod('a', { whisperers: [w(C0, { state: 'unknown', startedAt: null })] }),
    ],
    actions: [],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'injection in flight → no second action',
    pods: [pod('a')],
    observed: { inFlight: new Set([injectKey('uid-a', C0)]) },
    actions: [],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'annotation picks the target container',
    pods: [pod('a', { targetContainer: 'sidecar' })],
    actions: [`inject a ${C0} sidecar`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'annotation naming a missing container → ContainerNotFound',
    pods: [pod('a', { targetContainer: 'nope' })],
    actions: [],
    phase: 'failed',
    instances: ['a:failed:ContainerNotFound'],
    message: /ContainerNotFound: .*"nope"/,
  },
  {
    name: 'pending pod → wait, no action',
    pods: [pod('a', { phase: 'Pending', ip: null })],
    actions: [],
    phase: 'active',
    instances: ['a:pending:PodNotRunning'],
  },
  {
    name: 'deleting pod → nothing new',
    pods: [pod('a', { deleting: true }), pod('b')],
    actions: [`inject b ${C0} app`],
    phase: 'active',
    instances: ['b:pending:Injecting'],
  },
  {
    name: 'finished job pod without whisperer → ignored',
    pods: [pod('a', { phase: 'Succeeded' })],
    actions: [],
    phase: 'active',
    instances: [],
  },
  {
    name: 'bare Pod target that finished → PodNotRunning failure',
    desired: live(
      attachment({ target: { namespace: 'shop', kind: 'Pod', name: 'a' } }),
    ),
    pods: [pod('a', { phase: 'Failed', owner: null })],
    actions: [],
    phase: 'failed',
    instances: ['a:failed:PodNotRunning'],
  },
  {
    name: 'static pod → StaticPod, no action',
    pods: [pod('a', { mirror: true })],
    actions: [],
    phase: 'failed',
    instances: ['a:failed:StaticPod'],
    message: /StaticPod: .*static pod/,
  },
  {
    name: 'hostNetwork pod → HostNetworkPod, no action',
    pods: [pod('a', { hostNetwork: true })],
    actions: [],
    phase: 'failed',
    instances: ['a:failed:HostNetworkPod'],
    message: /HostNetworkPod: .*node's network/,
  },
  {
    name: 'namespace outside the install scope → failed, no action',
    pods: [pod('a')],
    observed: { scope: { include: ['other'], exclude: [] } },
    actions: [],
    phase: 'failed',
    instances: [],
    message: /NamespaceOutOfScope: namespace "shop" is outside .*\(other\)/,
  },
  {
    name: 'excluded namespace → failed',
    pods: [pod('a')],
    observed: { scope: { include: '*', exclude: ['shop'] } },
    actions: [],
    phase: 'failed',
    instances: [],
    message: /all namespaces except shop/,
  },
  {
    name: 'recorded PodSecurity failure blocks retry until retryAt',
    pods: [pod('a')],
    observed: {
      failures: new Map([
        [
          injectKey('uid-a', C0),
          {
            reason: 'PodSecurityRejected' as const,
            message: 'violates PodSecurity "restricted:latest"',
            at: NOW - 1000,
            retryAt: NOW + 60_000,
          },
        ],
      ]),
    },
    actions: [],
    phase: 'failed',
    instances: ['a:failed:PodSecurityRejected'],
    message: /PodSecurityRejected: violates PodSecurity/,
  },
  {
    name: 'failure past its retryAt → try again',
    pods: [pod('a')],
    observed: {
      failures: new Map([
        [
          injectKey('uid-a', C0),
          {
            reason: 'InjectionFailed' as const,
            message: 'x',
            at: NOW - 60_000,
            retryAt: NOW - 1,
          },
        ],
      ]),
    },
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'failure of the old pod does not block its replacement (different uid)',
    pods: [pod('a', { uid: 'new-uid' })],
    observed: {
      failures: new Map([
        [
          injectKey('uid-a', C0),
          {
            reason: 'Forbidden' as const,
            message: 'x',
            at: NOW,
            retryAt: null,
          },
        ],
      ]),
    },
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'some pods failing → active with a message',
    pods: [pod('a'), pod('b', { mirror: true })],
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting', 'b:failed:StaticPod'],
    message: /1 of 2 pods failed; first: b: StaticPod/,
  },
  {
    name: 'crashed once → restart as generation 1',
    pods: [pod('a', { whisperers: [crashed(C0, 10_000)] })],
    actions: [`inject a ${C1} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'crashed twice within 5 minutes → CrashLoopGuard, no restart',
    pods: [
      pod('a', { whisperers: [crashed(C0, 200_000), crashed(C1, 10_000)] }),
    ],
    actions: [],
    phase: 'failed',
    instances: ['a:failed:CrashLoopGuard'],
    message: /CrashLoopGuard: The whisperer failed 2 times within 5 minutes/,
  },
  {
    name: 'crashed twice, first long ago → restart as generation 2',
    pods: [
      pod('a', { whisperers: [crashed(C0, 3_600_000), crashed(C1, 10_000)] }),
    ],
    actions: [`inject a ${C2} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'exited 0 → completed, not restarted',
    pods: [pod('a', { whisperers: [crashed(C0, 10_000, 0)] })],
    actions: [],
    phase: 'active',
    instances: ['a:terminated:Completed'],
  },
  {
    name: 'image pull failure shows as failed',
    pods: [
      pod('a', {
        whisperers: [
          w(C0, {
            state: 'waiting',
            reason: 'ImagePullBackOff',
            startedAt: null,
          }),
        ],
      }),
    ],
    actions: [],
    phase: 'failed',
    instances: ['a:failed:InjectionFailed'],
    message: /cannot be pulled/,
  },
  {
    name: 'whisperer reports failure while running → failed WhispererFailed',
    pods: [pod('a', { whisperers: [w(C0)] })],
    observed: {
      reports: new Map([
        [
          reportKey('shop', 'a', C0),
          {
            podNamespace: 'shop',
            podName: 'a',
            container: C0,
            state: 'failed' as const,
            message: 'no such interface',
          },
        ],
      ]),
    },
    actions: [],
    phase: 'failed',
    instances: ['a:failed:WhispererFailed'],
    message: /WhispererFailed: no such interface/,
  },
  {
    name: 'whisperer reported failure and exited non-zero → never re-injected (no generation 1)',
    pods: [pod('a', { whisperers: [crashed(C0, 1000, 2)] })],
    observed: {
      reports: new Map([
        [
          reportKey('shop', 'a', C0),
          {
            podNamespace: 'shop',
            podName: 'a',
            container: C0,
            state: 'failed' as const,
            message: 'capture filter "tcp prot 80": syntax error',
          },
        ],
      ]),
    },
    actions: [],
    phase: 'failed',
    instances: ['a:failed:WhispererFailed'],
    message: /capture filter "tcp prot 80"/,
  },
  {
    name: 'a failure report of an older generation does not hold back the newest',
    pods: [pod('a', { whisperers: [crashed(C0, 400_000), w(C1)] })],
    observed: {
      reports: new Map([
        [
          reportKey('shop', 'a', C0),
          {
            podNamespace: 'shop',
            podName: 'a',
            container: C0,
            state: 'failed' as const,
            message: 'old',
          },
        ],
      ]),
    },
    actions: [],
    phase: 'active',
    instances: ['a:running:Running'],
  },
  {
    name: "other attachments' and foreign ephemeral containers are not ours",
    pods: [
      pod('a', {
        whisperers: [w(whispererContainerName('att-2'))],
        ephemeral: ['debugger', whispererContainerName('att-2')],
      }),
    ],
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'expiresAt passed → expire, no injection, whisperers stopping',
    desired: live(attachment({ expiresAt: ago(1) })),
    pods: [pod('a', { whisperers: [w(C0)] }), pod('b')],
    actions: ['expire att-1'],
    phase: 'expired',
    instances: ['a:stopping:Expired'],
  },
  {
    name: 'expiresAt ahead → still live',
    desired: live(
      attachment({ expiresAt: new Date(NOW + 60_000).toISOString() }),
    ),
    pods: [pod('b')],
    actions: [`inject b ${C0} app`],
    phase: 'active',
    instances: ['b:pending:Injecting'],
  },
  {
    name: 'detached → never inject; running whisperers are stopping, exited ones terminated',
    desired: [
      {
        attachment: attachment(),
        stopped: { reason: 'detached', at: NOW - 5000 },
      },
    ],
    pods: [
      pod('a', { whisperers: [w(C0)] }),
      pod('b', { whisperers: [crashed(C0, 1000, 0)] }),
      pod('new'),
    ],
    actions: [],
    phase: 'stopped',
    instances: ['a:stopping:Detached', 'b:terminated:Detached'],
  },
  {
    name: 'expired earlier → stays expired, no injection into new pods',
    desired: [
      {
        attachment: attachment(),
        stopped: { reason: 'expired', at: NOW - 5000 },
      },
    ],
    pods: [pod('new')],
    actions: [],
    phase: 'expired',
    instances: [],
  },
  {
    name: 'image outside the allow-list → no injection, every live pod says ImageNotAllowed',
    desired: live(withImage('evil.example/spider/whisperer:0.1.0')),
    pods: [pod('b'), pod('a'), pod('gone', { deleting: true })],
    observed: { images },
    actions: [],
    phase: 'failed',
    instances: ['a:failed:ImageNotAllowed', 'b:failed:ImageNotAllowed'],
    message:
      /^ImageNotAllowed: The image "evil\.example\/spider\/whisperer:0\.1\.0" of Whisperer "http" is not one this cluster's admin allows \(spider\/whisperer:\*, reg\.example\/team\/\*\)/,
  },
  {
    name: 'image outside the allow-list, no pods yet → failed with the reason',
    desired: live(withImage('attacker/tool:1')),
    pods: [],
    observed: { images },
    actions: [],
    phase: 'failed',
    instances: [],
    message: /^ImageNotAllowed: /,
  },
  {
    name: 'allowed image → injected as usual',
    desired: live(
      withImage(`reg.example/team/whisperer@sha256:${'a'.repeat(64)}`),
    ),
    pods: [pod('a')],
    observed: { images },
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'no image → the default image, checked like any other (allowed here)',
    pods: [pod('a')],
    observed: { images },
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: "target in the agent's own namespace → refused, AgentNamespace",
    pods: [pod('a')],
    observed: { agentNamespace: 'shop', images },
    actions: [],
    phase: 'failed',
    instances: ['a:failed:AgentNamespace'],
    message: /^AgentNamespace: Namespace "shop" is where the agent itself runs/,
  },
  {
    name: 'agent namespace elsewhere → injected as usual',
    pods: [pod('a')],
    observed: { agentNamespace: 'spider-system' },
    actions: [`inject a ${C0} app`],
    phase: 'active',
    instances: ['a:pending:Injecting'],
  },
  {
    name: 'no pods → active and empty',
    pods: [],
    actions: [],
    phase: 'active',
    instances: [],
  },
];

describe('planReconcile', () => {
  it.each(rows.map(r => [r.name, r] as const))('%s', (_name, row) => {
    const plan = planReconcile(
      row.desired ?? live(),
      observed(row.pods, row.observed),
      NOW,
    );
    expect(
      plan.actions.map(a =>
        a.type === 'inject'
          ? `inject ${a.pod} ${a.container} ${a.targetContainer}`
          : `expire ${a.attachmentId}`,
      ),
    ).toEqual(row.actions);
    expect(plan.attachments).toHaveLength(1);
    const view = plan.attachments[0];
    expect(view.phase).toBe(row.phase);
    expect(view.instances.map(i => `${i.pod}:${i.state}:${i.reason}`)).toEqual(
      row.instances,
    );
    for (const i of view.instances) {
      expect(i.message === null || i.message.length > 0).toBe(true);
    }
  });

  it.each(rows.filter(r => r.message).map(r => [r.name, r] as const))(
    '%s: attachment message',
    (_name, row) => {
      const plan = planReconcile(
        row.desired ?? live(),
        observed(row.pods, row.observed),
        NOW,
      );
      expect(plan.attachments[0].message).toMatch(row.message!);
    },
  );

  it('inject actions carry the pod uid and generation', () => {
    const plan = planReconcile(
      live(),
      observed([pod('a', { whisperers: [crashed(C0, 10_000)] })]),
      NOW,
    );
    expect(plan.actions).toEqual([
      {
        type: 'inject',
        attachmentId: 'att-1',
        namespace: 'shop',
        pod: 'a',
        podUid: 'uid-a',
        container: C1,
        generation: 1,
        targetContainer: 'app',
        processAccess: false,
      },
    ]);
  });

  it('grants process access only when the Whisperer asks and the admin allows it; says so otherwise', () => {
    const asking = live(
      attachment({
        whisperer: {
          id: 'w1',
          name: 'http',
          image: null,
          captureFilter: '',
          env: { SPIDER_PROCESS_ACCESS: 'true' },
        },
      }),
    );
    const pods = [pod('a'), pod('b', { whisperers: [w(C0)] })];
    const allowed = planReconcile(
      asking,
      observed(pods, { allowProcessAccess: true }),
      NOW,
    );
    expect(allowed.actions).toMatchObject([{ pod: 'a', processAccess: true }]);
    expect(allowed.attachments[0].instances.map(i => i.message)).toEqual([
      null,
      null,
    ]);

    const refused = planReconcile(asking, observed(pods), NOW);
    expect(refused.actions).toMatchObject([{ pod: 'a', processAccess: false }]);
    for (const i of refused.attachments[0].instances)
      expect(i.message).toMatch(/asks for process access .* does not allow it/);

    const notAsking = planReconcile(
      live(),
      observed(pods, { allowProcessAccess: true }),
      NOW,
    );
    expect(notAsking.actions).toMatchObject([
      { pod: 'a', processAccess: false },
    ]);
  });

  it('is deterministic and leaves its inputs alone', () => {
    const pods = [pod('b'), pod('a', { whisperers: [w(C0)] })];
    const frozen = JSON.stringify(pods);
    const one = planReconcile(live(), observed(pods), NOW);
    const two = planReconcile(live(), observed(pods), NOW);
    expect(one).toEqual(two);
    expect(JSON.stringify(pods)).toBe(frozen);
    expect(one.attachments[0].instances.map(i => i.pod)).toEqual(['a', 'b']);
  });
});
