import { silentLogger } from '../log/logger';
import {
  EphemeralPodApi,
  InjectorOptions,
  InjectResult,
  Injector,
} from './Injector';
import type { InjectAction } from './plan';
import { kubeStatusError } from '../testUtils/kubeStatusError';
import { KubeApiError } from '../kube/KubeHttp';

const action = (
  pod: string,
  container = 'spider-a',
  podUid = `uid-${pod}`,
): InjectAction => ({
  type: 'inject',
  attachmentId: 'a',
  namespace: 'ns',
  pod,
  podUid,
  container,
  generation: 0,
  targetContainer: 'app',
  processAccess: false,
});

/** A fake API server holding pods' ephemeral containers, with latency and scripted errors. */
class FakePods implements EphemeralPodApi {
  pods = new Map<string, { uid: string; names: string[] }>();
  patches: string[] = [];
  errors: any[] = [];
  active = 0;
  maxActive = 0;
  /** Behaves as the API server does: 404 for a gone pod, 422 on a uid or name clash. */
  async patchEphemeral(_ns: string, name: string, uid: string, c: any) {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await new Promise(r => setTimeout(r, 5));
      const err = this.errors.shift();
      if (err) throw err;
      const p = this.pods.get(name);
      if (!p)
        throw kubeStatusError(404, {
          message: `pods "${name}" not found`,
          details: { name, kind: 'pods' },
        });
      if (p.uid !== uid)
        throw kubeStatusError(422, {
          message: `Pod "${name}" is invalid: metadata.uid: Invalid value: "${uid}": field is immutable`,
        });
      if (p.names.includes(c.name))
        throw kubeStatusError(422, { message: `Duplicate value: "${c.name}"` });
      p.names.push(c.name);
      this.patches.push(`${name}/${c.name}`);
    } finally {
      this.active--;
    }
  }
}

function setup(
  opts: Partial<{
    concurrency: InjectorOptions['concurrency'];
    maxAttempts: number;
  }> = {},
) {
  const api = new FakePods();
  const results: InjectResult[] = [];
  const injector = new Injector(
    api,
    {
      concurrency: opts.concurrency ?? 4,
      maxAttempts: opts.maxAttempts ?? 3,
      backoff: { baseMs: 1, maxMs: 2 },
    },
    r => results.push(r),
    silentLogger,
  );
  return { api, results, injector };
}

describe('Injector', () => {
  it('injects once even when the same action is submitted repeatedly or concurrently', async () => {
    const { api, results, injector } = setup();
    api.pods.set('p', { uid: 'uid-p', names: [] });
    expect(injector.submit(action('p'), { name: 'spider-a' })).toBe(true);
    expect(injector.submit(action('p'), { name: 'spider-a' })).toBe(false);
    await injector.idle();
    injector.submit(action('p'), { name: 'spider-a' });
    await injector.idle();
    expect(api.patches).toEqual(['p/spider-a']);
    expect(results.map(r => r.outcome)).toEqual(['injected', 'exists']);
    expect(injector.inFlight.size).toBe(0);
  });

  it('serializes per pod and bounds concurrency across pods', async () => {
    const { api, injector } = setup({ concurrency: 3 });
    for (let i = 0; i < 20; i++)
      api.pods.set(`p${i}`, { uid: `uid-p${i}`, names: [] });
    for (let i = 0; i < 20; i++) {
      injector.submit(action(`p${i}`, 'spider-a'), { name: 'spider-a' });
      injector.submit(action(`p${i}`, 'spider-a-1'), { name: 'spider-a-1' });
    }
    await injector.idle();
    expect(api.patches).toHaveLength(40);
    expect(api.maxActive).toBeLessThanOrEqual(3);
    expect(api.maxActive).toBeGreaterThan(1);
  });

  it('treats 409/422 "already exists" as success', async () => {
    const { api, results, injector } = setup();
    api.pods.set('p', { uid: 'uid-p', names: [] });
    api.errors.push({ status: 409, body: { message: 'already exists' } });
    injector.submit(action('p'), { name: 'spider-a' });
    await injector.idle();
    expect(results[0].outcome).toBe('exists');
  });

  it('retries transient errors with backoff, then reports', async () => {
    const { api, results, injector } = setup({ maxAttempts: 3 });
    api.pods.set('p', { uid: 'uid-p', names: [] });
    api.errors.push({ status: 503, body: 'x' }, { status: 500, body: 'y' });
    injector.submit(action('p'), { name: 'spider-a' });
    await injector.idle();
    expect(results[0]).toMatchObject({ outcome: 'injected', attempts: 3 });
    api.pods.set('q', { uid: 'uid-q', names: [] });
    api.errors.push({ status: 503 }, { status: 503 }, { status: 503 });
    injector.submit(action('q'), { name: 'spider-a' });
    await injector.idle();
    expect(results[1]).toMatchObject({
      outcome: 'gaveUp',
      reason: 'InjectionFailed',
      attempts: 3,
    });
  });

  it("never patches a new pod that took the planned pod's name, nor a gone pod", async () => {
    const { api, results, injector } = setup();
    api.pods.set('db-0', { uid: 'uid-new', names: [] });
    injector.submit(action('db-0', 'spider-a', 'uid-old'), {
      name: 'spider-a',
    });
    injector.submit(action('gone'), { name: 'spider-a' });
    await injector.idle();
    expect(results.map(r => r.outcome).sort()).toEqual(['podGone', 'stale']);
    expect(api.pods.get('db-0')!.names).toEqual([]);
    expect(api.patches).toEqual([]);
  });

  it('does not retry rejections and says why', async () => {
    const { api, results, injector } = setup();
    api.pods.set('p', { uid: 'uid-p', names: [] });
    api.errors.push({
      status: 403,
      body: { message: 'violates PodSecurity "restricted:latest"' },
    });
    injector.submit(action('p'), { name: 'spider-a' });
    await injector.idle();
    expect(results[0]).toMatchObject({
      outcome: 'rejected',
      reason: 'PodSecurityRejected',
      attempts: 1,
    });
  });

  it('skips a pod that is gone or was replaced under the same name', async () => {
    const { api, results, injector } = setup();
    api.pods.set('p', { uid: 'other-uid', names: [] });
    injector.submit(action('p'), { name: 'spider-a' });
    injector.submit(action('gone'), { name: 'spider-a' });
    await injector.idle();
    expect(results.map(r => r.outcome).sort()).toEqual(['podGone', 'stale']);
    expect(api.patches).toEqual([]);
  });

  describe('with an adaptive limit', () => {
    const adaptive = { initial: 4, min: 2, max: 64, tolerance: 2 };
    const pods = (api: FakePods, n: number) => {
      for (let i = 0; i < n; i++)
        api.pods.set(`p${i}`, { uid: `uid-p${i}`, names: [] });
    };

    it('raises the PATCHes in flight while the latency holds, within its maximum', async () => {
      const { api, injector } = setup({ concurrency: adaptive });
      pods(api, 400);
      for (let i = 0; i < 400; i++)
        injector.submit(action(`p${i}`), { name: 'spider-a' });
      await injector.idle();
      expect(api.patches).toHaveLength(400);
      expect(api.maxActive).toBeGreaterThan(4);
      expect(api.maxActive).toBeLessThanOrEqual(64);
      expect(injector.concurrency).toBeGreaterThan(4);
    });

    it('halves them on 429, injects everything still, and waits the Retry-After', async () => {
      const { api, injector, results } = setup({
        concurrency: { ...adaptive, initial: 32 },
        maxAttempts: 5,
      });
      pods(api, 32);
      for (let i = 0; i < 32; i++)
        api.errors.push(
          new KubeApiError(429, { message: 'too many requests' }, '429', 0.05),
        );
      for (let i = 0; i < 32; i++)
        injector.submit(action(`p${i}`), { name: 'spider-a' });
      await injector.idle();
      expect(api.patches).toHaveLength(32);
      expect(results.every(r => r.outcome === 'injected')).toBe(true);
      // One halving per round of answers (32 → 16, then +1 a round), not 32 → 2.
      expect(injector.concurrency).toBeGreaterThanOrEqual(16);
      expect(injector.concurrency).toBeLessThan(20);
      expect(
        Math.min(...results.map(r => r.durationMs)),
      ).toBeGreaterThanOrEqual(50);
    });
  });
});
