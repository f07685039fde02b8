import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ControlPlane, ensurePlane } from './ControlPlane';
import { KubeFixtures, expectApiFailure, waitFor } from './KubeFixtures';

jest.setTimeout(180_000);

/** A pod spec that passes the `restricted` PodSecurity level. */
const restrictedPodSpec = {
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 1000,
    seccompProfile: { type: 'RuntimeDefault' },
  },
  containers: [
    {
      name: 'app',
      image: 'registry.invalid/spider/e2e-app:1',
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    },
  ],
};

describe('control plane: ephemeral containers, PodSecurity and RBAC', () => {
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

  it('accepts a strategic-merge PATCH of pods/ephemeralcontainers, reports it running, and refuses a second container of the same name', async () => {
    const ns = await k.createNamespace('ephemeral');
    await k.createPod(ns, 'target');
    await k.waitForPodRunning(ns, 'target');

    const patched = await k.addEphemeralContainer(ns, 'target', {
      name: 'spider-debug',
      image: 'registry.invalid/spider/debug:1',
      targetContainerName: 'app',
      command: ['sh'],
      stdin: true,
      tty: true,
    });
    expect(patched.spec?.ephemeralContainers?.map(c => c.name)).toEqual([
      'spider-debug',
    ]);
    expect(patched.spec?.ephemeralContainers?.[0].targetContainerName).toBe(
      'app',
    );

    const status = await k.waitForEphemeralContainerRunning(
      ns,
      'target',
      'spider-debug',
    );
    expect(status?.state?.running?.startedAt).toBeTruthy();
    expect(status?.image).toBe('registry.invalid/spider/debug:1');

    // Same name, different container: the API refuses to change an existing one.
    const message = await expectApiFailure(
      k.addEphemeralContainer(ns, 'target', {
        name: 'spider-debug',
        image: 'registry.invalid/spider/other:2',
      }),
      422,
    );
    expect(message).toMatch(/spider-debug/);
    // A JSON patch appending a duplicate name is refused as a duplicate.
    const dup = await expectApiFailure(
      k.core.patchNamespacedPodEphemeralcontainers(
        {
          name: 'target',
          namespace: ns,
          body: [
            {
              op: 'add',
              path: '/spec/ephemeralContainers/-',
              value: { name: 'spider-debug', image: 'x/y:1' },
            },
          ],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
      422,
    );
    expect(dup).toMatch(/Duplicate value.*spider-debug/);

    const pod = await k.core.readNamespacedPod({
      name: 'target',
      namespace: ns,
    });
    expect(pod.spec?.ephemeralContainers).toHaveLength(1);
    expect(pod.spec?.ephemeralContainers?.[0].image).toBe(
      'registry.invalid/spider/debug:1',
    );
  });

  it('rejects, in a namespace enforcing the restricted PodSecurity level, an ephemeral container that adds NET_RAW', async () => {
    const ns = await k.createNamespace('restricted', {
      podSecurity: 'restricted',
    });
    const ownNs = await k.core.readNamespace({ name: ns });
    expect(ownNs.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe(
      'restricted',
    );

    // A non-compliant pod is refused outright (admission is really on) ...
    await expectApiFailure(k.createPod(ns, 'root-pod'), 403);
    // ... a compliant one runs.
    await k.createPod(ns, 'locked', { podSpec: restrictedPodSpec });
    await k.waitForPodRunning(ns, 'locked');

    const message = await expectApiFailure(
      k.addEphemeralContainer(ns, 'locked', {
        name: 'sniffer',
        image: 'registry.invalid/spider/debug:1',
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
        },
      }),
      403,
    );
    expect(message).toMatch(/violates PodSecurity "restricted:latest"/);
    expect(message).toMatch(/NET_RAW/);

    // The same container without NET_RAW is admitted, so the refusal was about NET_RAW.
    const ok = await k.addEphemeralContainer(ns, 'locked', {
      name: 'debugger',
      image: 'registry.invalid/spider/debug:1',
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    });
    expect(ok.spec?.ephemeralContainers?.map(c => c.name)).toEqual([
      'debugger',
    ]);
  });

  it('gives a ServiceAccount without patch on pods/ephemeralcontainers 403, and success once a Role grants it', async () => {
    const ns = await k.createNamespace('rbac');
    await k.createPod(ns, 'target');
    await k.waitForPodRunning(ns, 'target');
    await k.createServiceAccount(ns, 'spider-agent');
    await k.grantRole(ns, 'spider-agent', 'spider-agent-read', [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    ]);
    const asAgent = await k.kubeConfigAsServiceAccount(ns, 'spider-agent');

    // The token is real: the agent can read pods but not patch ephemeral containers.
    const agentCore = asAgent.makeApiClient(CoreV1Api);
    await waitFor(
      'the agent token to read pods',
      async () => ({
        done: Boolean(
          await agentCore.readNamespacedPod({ name: 'target', namespace: ns }),
        ),
      }),
      { timeoutMs: 15_000 },
    );
    const denied = await expectApiFailure(
      k.addEphemeralContainer(
        ns,
        'target',
        { name: 'dbg', image: 'registry.invalid/spider/debug:1' },
        asAgent,
      ),
      403,
    );
    expect(denied).toMatch(
      /system:serviceaccount:.*:spider-agent.*cannot patch resource "pods\/ephemeralcontainers"/,
    );

    await k.grantRole(ns, 'spider-agent', 'spider-agent-debug', [
      {
        apiGroups: [''],
        resources: ['pods/ephemeralcontainers'],
        verbs: ['patch'],
      },
    ]);
    const pod = await waitFor(
      'the agent to be allowed to patch pods/ephemeralcontainers',
      async () => {
        try {
          const p = await k.addEphemeralContainer(
            ns,
            'target',
            { name: 'dbg', image: 'registry.invalid/spider/debug:1' },
            asAgent,
          );
          return { done: true, value: p };
        } catch (e) {
          return { done: false, seen: e };
        }
      },
      { timeoutMs: 15_000 },
    );
    expect(pod.spec?.ephemeralContainers?.map(c => c.name)).toEqual(['dbg']);
    await k.waitForEphemeralContainerRunning(ns, 'target', 'dbg');
  });
});
