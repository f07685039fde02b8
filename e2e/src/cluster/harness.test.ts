import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSharedPlane } from './ControlPlane';
import { WaitTimeoutError, waitFor } from './KubeFixtures';

// Unit tests of the harness itself: no cluster needed.

const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`;

describe('harness: choosing the cluster', () => {
  it('ignores a plain KUBECONFIG, so a developer cluster never gets test pods by accident', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spider-harness-'));
    writeFileSync(join(dir, 'config'), kubeconfig);
    expect(
      findSharedPlane({ KUBECONFIG: join(dir, 'config') }),
    ).toBeUndefined();
  });

  it('uses the cluster of SPIDER_TEST_KUBECONFIG as is, and never stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spider-harness-'));
    writeFileSync(join(dir, 'config'), kubeconfig);
    const plane = findSharedPlane({
      SPIDER_TEST_KUBECONFIG: join(dir, 'config'),
      SPIDER_HELM: '/opt/helm',
    });
    expect(plane?.source).toBe('external');
    expect(plane?.kubeConfig.getCurrentCluster()?.server).toBe(
      'https://127.0.0.1:6443',
    );
    expect(plane?.helmBinary).toBe('/opt/helm');
    expect(plane?.statePath).toBeUndefined();
    await plane?.stop();
  });

  it('says so when SPIDER_TEST_KUBECONFIG or SPIDER_PLANE_STATE names nothing', () => {
    expect(() =>
      findSharedPlane({ SPIDER_TEST_KUBECONFIG: '/nonexistent/kubeconfig' }),
    ).toThrow(
      /SPIDER_TEST_KUBECONFIG=\/nonexistent\/kubeconfig does not exist/,
    );
    expect(() =>
      findSharedPlane({ SPIDER_PLANE_STATE: '/nonexistent/plane' }),
    ).toThrow(/holds no running plane/);
  });
});

describe('harness: waitFor', () => {
  it('returns the value once the probe is done', async () => {
    let n = 0;
    const v = await waitFor(
      'n to reach 3',
      async () => {
        n += 1;
        return { done: n >= 3, value: n, seen: n };
      },
      { intervalMs: 1 },
    );
    expect(v).toBe(3);
  });

  it('times out with a message naming what was awaited and what was last seen', async () => {
    const err = await waitFor(
      '5 Running pods in ns/x',
      async () => ({
        done: false,
        seen: [{ name: 'web-1', phase: 'Pending' }],
      }),
      { timeoutMs: 300, intervalMs: 50 },
    ).catch((e: Error) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toBe(
      'Timed out after 0.3 s waiting for 5 Running pods in ns/x; last seen: [{"name":"web-1","phase":"Pending"}]',
    );
  });

  it('reports the last error a probe threw', async () => {
    const err = await waitFor(
      'the apiserver',
      async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
      { timeoutMs: 100, intervalMs: 20 },
    ).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /waiting for the apiserver; last seen: error: connect ECONNREFUSED/,
    );
  });
});
