import type {
  DesiredAttachment,
  WhispererInstance,
} from '@spider/backstage-plugin-spider-common';
import { whispererContainerName } from '@spider/backstage-plugin-spider-common';
import { ClusterCache } from '../cluster/ClusterCache';
import { leanPod, leanWorkload } from '../cluster/lean';
import { silentLogger } from '../log/logger';
import { EphemeralPodApi, Injector } from './Injector';
import type { AttachmentView } from './plan';
import { Reconciler, sameView } from './Reconciler';
import { kubeStatusError } from '../testUtils/kubeStatusError';

/** A tiny API server: pods with ephemeral containers; patches feed back into the cache like a watch would. */
class World implements EphemeralPodApi {
  cache = new ClusterCache({ include: '*', exclude: [] });
  pods = new Map<string, any>();
  patches: string[] = [];
  /** Errors the next PATCHes throw, in turn. */
  errors: unknown[] = [];
  addPod(name: string, rs = 'web-1', phase = 'Running', uid = `uid-${name}`) {
    const obj = {
      metadata: {
        name,
        namespace: 'shop',
        uid,
        ownerReferences: [{ kind: 'ReplicaSet', name: rs, controller: true }],
      },
      spec: { containers: [{ name: 'app' }], ephemeralContainers: [] as any[] },
      status: { phase, podIP: `10.0.0.${this.pods.size + 1}` },
    };
    this.pods.set(name, obj);
    this.cache.apply('Pod', 'ADDED', leanPod(obj));
  }
  deletePod(name: string) {
    const obj = this.pods.get(name);
    this.pods.delete(name);
    this.cache.apply('Pod', 'DELETED', leanPod(obj));
  }
  /** Behaves as the API server does: 404 for a gone pod, 422 on a uid or name clash. */
  async patchEphemeral(_ns: string, name: string, uid: string, c: any) {
    const err = this.errors.shift();
    if (err) throw err;
    const p = this.pods.get(name);
    if (!p)
      throw kubeStatusError(404, {
        message: `pods "${name}" not found`,
        details: { name, kind: 'pods' },
      });
    if (p.metadata.uid !== uid)
      throw kubeStatusError(422, {
        message: `Pod "${name}" is invalid: metadata.uid: Invalid value: "${uid}": field is immutable`,
      });
    if (p.spec.ephemeralContainers.some((e: any) => e.name === c.name)) {
      throw kubeStatusError(422, {
        message: `Pod "${name}" is invalid: spec.ephemeralContainers[1].name: Duplicate value: "${c.name}"`,
      });
    }
    p.spec.ephemeralContainers.push(c);
    this.patches.push(`${name}/${c.name}`);
    setTimeout(() => this.cache.apply('Pod', 'MODIFIED', leanPod(p)), 1);
  }
  count(name: string) {
    return this.pods.get(name)?.spec.ephemeralContainers.length ?? 0;
  }
}

const attachment = (
  over: Partial<DesiredAttachment> = {},
): DesiredAttachment => ({
  id: 'att-1',
  target: { namespace: 'shop', kind: 'Deployment', name: 'web' },
  whisperer: { id: 'w', name: 'w', image: null, captureFilter: 'tcp', env: {} },
  expiresAt: null,
  ...over,
});

function setup(
  now = () => Date.now(),
  over: {
    resyncMs?: number;
    transientHoldMs?: number;
    /** The watch events the reconciler hears of (default: all). */
    hears?: (cache: ClusterCache) => ClusterCache;
  } = {},
) {
  const world = new World();
  world.cache.apply(
    'Deployment',
    'ADDED',
    leanWorkload('Deployment', {
      metadata: { name: 'web', namespace: 'shop' },
      spec: { replicas: 3 },
    }),
  );
  world.cache.apply(
    'ReplicaSet',
    'ADDED',
    leanWorkload('ReplicaSet', {
      metadata: {
        name: 'web-1',
        namespace: 'shop',
        ownerReferences: [
          { kind: 'Deployment', name: 'web', controller: true },
        ],
      },
    }),
  );
  // The injector reports to the reconciler, which is created after it.
  const late: { reconciler?: Reconciler } = {};
  const injector = new Injector(
    world,
    {
      concurrency: 4,
      maxAttempts: 2,
      backoff: { baseMs: 1, maxMs: 2 },
      // As the agent wires it.
      wanted: a => late.reconciler!.wanted(a),
    },
    r => late.reconciler!.onInjectResult(r),
    silentLogger,
  );
  const reconciler = new Reconciler(
    over.hears ? over.hears(world.cache) : world.cache,
    injector,
    {
      scope: { include: '*', exclude: [] },
      defaultImage: 'img:1',
      endpoints: { agentUrl: 'http://a:1', dns: 'a:2' },
      resyncMs: over.resyncMs ?? 60_000,
      debounceMs: 5,
      rejectionHoldMs: 60_000,
      transientHoldMs: over.transientHoldMs ?? 1000,
    },
    silentLogger,
    undefined,
    now,
  );
  late.reconciler = reconciler;
  return { world, injector, reconciler };
}

const settle = async (injector: Injector) => {
  // Event-driven re-plans may wait for the planning budget (nine times a plan's cost,
  // which a loaded machine inflates), so settle for longer than the 5 ms debounce.
  for (let i = 0; i < 8; i++) {
    await new Promise(r => setTimeout(r, 30));
    await injector.idle();
  }
};

describe('Reconciler', () => {
  let ctx: ReturnType<typeof setup>;
  afterEach(() => ctx?.reconciler.stop());

  it('injects into every pod once, follows new pods, survives replays and resyncs', async () => {
    ctx = setup();
    const { world, injector, reconciler } = ctx;
    ['a', 'b', 'c'].forEach(n => world.addPod(n));
    reconciler.start();
    reconciler.setDesired(1, [attachment()]);
    await settle(injector);
    expect(['a', 'b', 'c'].map(n => world.count(n))).toEqual([1, 1, 1]);

    // Replays of the same desired set and attach, resyncs, a second agent start.
    reconciler.attach(1, attachment());
    reconciler.setDesired(1, [attachment()]);
    reconciler.resync();
    await settle(injector);
    world.addPod('d');
    world.addPod('e', 'web-1', 'Pending');
    await settle(injector);
    expect(['a', 'b', 'c', 'd', 'e'].map(n => world.count(n))).toEqual([
      1, 1, 1, 1, 0,
    ]);
    expect(world.patches).toHaveLength(4);
    expect(
      world.patches.every(p =>
        p.endsWith(`/${whispererContainerName('att-1')}`),
      ),
    ).toBe(true);

    const view = reconciler.allViews()[0];
    expect(view.phase).toBe('active');
    expect(view.instances.map(i => `${i.pod}:${i.reason}`)).toContain(
      'e:PodNotRunning',
    );

    // Registry: the whisperer's config and stop signal.
    expect(
      reconciler.configFor('shop', 'a', whispererContainerName('att-1')),
    ).toMatchObject({ attachmentId: 'att-1', stop: false });
    expect(reconciler.configFor('shop', 'a', 'spider-unknown')).toBeUndefined();
  });

  it('a whisperer that reported failed is never re-injected, even after its container exits non-zero', async () => {
    ctx = setup();
    const { world, injector, reconciler } = ctx;
    world.addPod('a');
    reconciler.start();
    reconciler.setDesired(1, [
      attachment({
        whisperer: {
          id: 'w',
          name: 'w',
          image: null,
          captureFilter: 'tcp prot 80',
          env: { SPIDER_BODY_CAP_BYTES: '1024', SPIDER_MAX_CPU_CORES: 'many' },
        },
      }),
    ]);
    await settle(injector);
    const c0 = whispererContainerName('att-1');
    // The configuration carries the capture settings; the bad entry keeps its default.
    expect(reconciler.configFor('shop', 'a', c0)?.capture).toMatchObject({
      bodyCapBytes: 1024,
      maxCpuCores: 0.5,
    });
    reconciler.reportState({
      podNamespace: 'shop',
      podName: 'a',
      container: c0,
      state: 'failed',
      message: 'capture filter "tcp prot 80": syntax error',
      exitCode: 2,
    });
    // The kubelet then reports the container terminated with exit code 2.
    const p = world.pods.get('a');
    p.status.ephemeralContainerStatuses = [
      {
        name: c0,
        state: {
          terminated: {
            exitCode: 2,
            reason: 'Error',
            finishedAt: new Date().toISOString(),
          },
        },
      },
    ];
    world.cache.apply('Pod', 'MODIFIED', leanPod(p));
    reconciler.resync();
    await settle(injector);
    expect(world.count('a')).toBe(1);
    expect(reconciler.allViews()[0]).toMatchObject({
      phase: 'failed',
      instances: [
        {
          pod: 'a',
          state: 'failed',
          reason: 'WhispererFailed',
          message: 'capture filter "tcp prot 80": syntax error',
        },
      ],
    });
  });

  it('detach tells whisperers to stop and never injects again', async () => {
    ctx = setup();
    const { world, injector, reconciler } = ctx;
    world.addPod('a');
    reconciler.start();
    reconciler.setDesired(1, [attachment()]);
    await settle(injector);
    const stops: string[] = [];
    reconciler.onStop((id, reason) => stops.push(`${id}:${reason}`));
    expect(reconciler.detach(2, 'att-1', 'detached')).toBe(true);
    expect(stops).toEqual(['att-1:detached']);
    expect(reconciler.isStopped('att-1')).toBe(true);
    expect(
      reconciler.configFor('shop', 'a', whispererContainerName('att-1')),
    ).toMatchObject({ stop: true, stopReason: 'detached' });
    world.addPod('b');
    reconciler.attach(1, attachment()); // a replayed old attach
    reconciler.resync();
    await settle(injector);
    expect(world.count('b')).toBe(0);
    expect(reconciler.allViews()[0]).toMatchObject({
      phase: 'stopped',
      instances: [{ pod: 'a', state: 'stopping', reason: 'Detached' }],
    });
  });

  it('enforces expiry locally with its own clock', async () => {
    let now = Date.parse('2026-05-01T12:00:00Z');
    ctx = setup(() => now);
    const { world, injector, reconciler } = ctx;
    world.addPod('a');
    reconciler.start();
    reconciler.setDesired(1, [
      attachment({ expiresAt: '2026-05-01T12:00:30Z' }),
    ]);
    await settle(injector);
    expect(world.count('a')).toBe(1);
    const stops: string[] = [];
    reconciler.onStop((id, reason) => stops.push(`${id}:${reason}`));
    now += 31_000;
    reconciler.resync();
    world.addPod('b');
    await settle(injector);
    expect(stops).toEqual(['att-1:expired']);
    expect(world.count('b')).toBe(0);
    expect(reconciler.allViews()[0].phase).toBe('expired');
  });

  it('re-injects into a replacement pod and not twice into one with a pending patch', async () => {
    ctx = setup();
    const { world, injector, reconciler } = ctx;
    world.addPod('a');
    reconciler.start();
    reconciler.setDesired(1, [attachment()]);
    await settle(injector);
    world.deletePod('a');
    world.addPod('a2');
    await settle(injector);
    expect(world.count('a2')).toBe(1);
    expect(world.patches).toEqual([
      `a/${whispererContainerName('att-1')}`,
      `a2/${whispererContainerName('att-1')}`,
    ]);
  });

  it('reports an attachment outside the scope as failed without touching pods', async () => {
    ctx = setup();
    const { world, injector, reconciler } = ctx;
    (reconciler as any).options.scope = { include: ['other'], exclude: [] };
    world.addPod('a');
    reconciler.start();
    reconciler.setDesired(1, [attachment()]);
    await settle(injector);
    expect(world.patches).toEqual([]);
    expect(reconciler.allViews()[0]).toMatchObject({
      phase: 'failed',
      message: expect.stringMatching(/^NamespaceOutOfScope/),
    });
  });
});

/**
 * The cache as the reconciler sees it when every watch event is missed: the pods are
 * there (a relist put them there), but no event ever says a workload changed.
 */
const deaf = (cache: ClusterCache): ClusterCache =>
  Object.create(cache, { onTargets: { value: () => () => {} } });

describe('Reconciler: drift is repaired within one resync period', () => {
  const RESYNC_MS = 10_000;
  let ctx: ReturnType<typeof setup>;
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => {
    ctx?.reconciler.stop();
    jest.useRealTimers();
  });
  const c0 = whispererContainerName('att-1');

  it('a pod whose events were missed gets its whisperer at the next resync', async () => {
    ctx = setup(Date.now, { resyncMs: RESYNC_MS, hears: deaf });
    const { world, reconciler } = ctx;
    world.addPod('a');
    reconciler.start();
    reconciler.setDesired(1, [attachment()]);
    await jest.advanceTimersByTimeAsync(100);
    expect(world.count('a')).toBe(1);

    // A new replica, and a replica replaced behind the agent's back (same name, new
    // uid), neither announced by an event.
    world.addPod('b');
    world.deletePod('a');
    world.addPod('a', 'web-1', 'Running', 'uid-a-2');
    await jest.advanceTimersByTimeAsync(RESYNC_MS / 2);
    // Nothing heard yet: the repair below is the resync's.
    expect([world.count('a'), world.count('b')]).toEqual([0, 0]);
    await jest.advanceTimersByTimeAsync(RESYNC_MS / 2 + 100);
    expect([world.count('a'), world.count('b')]).toEqual([1, 1]);
    expect(world.patches.slice(1)).toEqual(
      expect.arrayContaining([`a/${c0}`, `b/${c0}`]),
    );
    expect(reconciler.allViews()[0].instances.map(i => i.reason)).toEqual([
      'Injecting',
      'Injecting',
    ]);
  });

  it('a pod whose PATCH kept failing is tried again when its hold ends, within the period', async () => {
    // The hold (3 s) ends well before the next resync (10 s).
    ctx = setup(Date.now, {
      resyncMs: RESYNC_MS,
      transientHoldMs: 3000,
      hears: deaf,
    });
    const { world, reconciler } = ctx;
    world.addPod('a');
    // More failures than the injector's attempts (2): it gives up and the pod is held.
    world.errors.push(
      kubeStatusError(500, { message: 'etcdserver: request timed out' }),
      kubeStatusError(500, { message: 'etcdserver: request timed out' }),
    );
    reconciler.start();
    reconciler.setDesired(1, [attachment()]);
    await jest.advanceTimersByTimeAsync(100);
    expect(world.count('a')).toBe(0);
    expect(reconciler.allViews()[0].instances[0]).toMatchObject({
      state: 'failed',
      reason: 'InjectionFailed',
    });
    await jest.advanceTimersByTimeAsync(3000);
    expect(world.count('a')).toBe(1);
  });

  it('a detach drops the injections still waiting for a slot', async () => {
    ctx = setup(Date.now, { resyncMs: RESYNC_MS });
    const { world, reconciler } = ctx;
    // 12 pods, 4 PATCHes at a time (setup's injector): 8 wait when the detach comes.
    const names = Array.from({ length: 12 }, (_, i) => `p${i}`);
    names.forEach(n => world.addPod(n));
    let release!: () => void;
    const gate = new Promise<void>(r => (release = r));
    const patch = world.patchEphemeral.bind(world);
    world.patchEphemeral = async (...args) => {
      await gate;
      return patch(...args);
    };
    reconciler.start();
    reconciler.setDesired(1, [attachment()]);
    await jest.advanceTimersByTimeAsync(10);
    reconciler.detach(2, 'att-1', 'detached');
    release();
    await jest.advanceTimersByTimeAsync(RESYNC_MS + 100);
    // The 4 already sent land; none of the 8 waiting is sent after the detach.
    expect(world.patches).toHaveLength(4);
  });
});

describe('sameView', () => {
  const inst = (over: Partial<WhispererInstance> = {}): WhispererInstance => ({
    pod: 'web-1',
    container: 'spider-a',
    node: 'n1',
    podIp: '10.0.0.1',
    state: 'running',
    reason: 'Running',
    message: null,
    startedAt: '2026-12-02T00:00:00Z',
    finishedAt: null,
    exitCode: null,
    generation: 0,
    ...over,
  });
  const view = (instances: WhispererInstance[], over = {}): AttachmentView => ({
    attachmentId: 'a',
    phase: 'active',
    message: null,
    instances,
    ...over,
  });

  it('is true for equal views built apart, false for any field that differs', () => {
    expect(sameView(view([inst()]), view([inst()]))).toBe(true);
    expect(sameView(view([inst()]), view([inst({ state: 'pending' })]))).toBe(
      false,
    );
    expect(sameView(view([inst()]), view([inst({ podIp: null })]))).toBe(false);
    expect(sameView(view([inst()]), view([inst(), inst()]))).toBe(false);
    expect(sameView(view([]), view([], { phase: 'failed' }))).toBe(false);
    expect(sameView(view([]), view([], { message: 'x' }))).toBe(false);
  });
});
