import { join } from 'node:path';
import { ControlPlane, ensurePlane } from './ControlPlane';
import { KubeFixtures } from './KubeFixtures';

jest.setTimeout(180_000);

describe('control plane: helm', () => {
  let plane: ControlPlane;
  let k: KubeFixtures;

  beforeAll(async () => {
    plane = await ensurePlane();
    k = new KubeFixtures(plane.kubeConfig, {
      kubeconfigPath: plane.kubeconfigPath,
      helmBinary: plane.helmBinary,
    });
  }, 45 * 60_000);

  afterAll(async () => {
    await k?.cleanup();
    await plane?.stop();
  }, 120_000);

  it('helm installs a small chart into the plane and waits for it', async () => {
    const ns = await k.createNamespace('helm', { podSecurity: 'baseline' });
    const out = await k.helmInstall(
      'hello',
      join(__dirname, 'testdata', 'hello-chart'),
      ns,
      {
        values: { replicaCount: 3, greeting: 'hi-spider' },
      },
    );
    expect(out).toMatch(/STATUS: deployed/);

    const cm = await k.core.readNamespacedConfigMap({
      name: 'hello-greeting',
      namespace: ns,
    });
    expect(cm.data?.greeting).toBe('hi-spider');
    const pods = await k.waitForRunningPods(
      ns,
      'app.kubernetes.io/instance=hello',
      3,
    );
    expect(new Set(pods.map(p => p.status!.podIP)).size).toBe(3);
    const svc = await k.core.readNamespacedService({
      name: 'hello',
      namespace: ns,
    });
    expect(svc.spec?.clusterIP).toBeTruthy();
    // Our planes use the default service range; an external cluster may use any.
    const serviceRange = plane.source === 'external' ? /./ : /^10\.96\./;
    expect(svc.spec?.clusterIP).toMatch(serviceRange);

    const list = JSON.parse(
      await k.helm(['list', '--namespace', ns, '--output', 'json']),
    );
    expect(list).toEqual([
      expect.objectContaining({
        name: 'hello',
        status: 'deployed',
        chart: 'spider-e2e-hello-0.1.0',
      }),
    ]);
    await k.helm(['uninstall', 'hello', '--namespace', ns, '--wait']);
  });
});
