import { createServer, connect, Server, Socket } from 'node:net';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { AGENT_ENV } from '@spider/backstage-plugin-spider-common';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
// The agent's own Kubernetes client, exercised directly for the cases the agent process
// does not make observable (a request after expiry, a 401, a proxy's log).
// eslint-disable-next-line @backstage/no-relative-monorepo-imports
import { KubeHttp } from '../../../controller-agent/src/kube/KubeHttp';
// eslint-disable-next-line @backstage/no-relative-monorepo-imports
import { loadKubeTarget } from '../../../controller-agent/src/kube/kubeTarget';
import { ControlPlane, ensurePlane } from '../cluster/ControlPlane';
import {
  agentServiceAccountKubeconfig,
  AgentProcess,
  ensureNamespace,
  startAgentProcess,
  until,
} from './agentFixtures';

/**
 * The kubeconfigs people have, against the real apiserver: an exec credential plugin
 * (re-run when its credential expires or is refused), tls-server-name, proxy-url through
 * a CONNECT proxy, and a two-file KUBECONFIG merged as kubectl merges it.
 */
jest.setTimeout(10 * 60_000);

const RUN = Date.now().toString(36).slice(-5);
const NS = `kubeconfig-e2e-${RUN}`;
const V1 = 'client.authentication.k8s.io/v1';

describe('agent kubeconfigs (real plane)', () => {
  let plane: ControlPlane;
  let admin: KubeConfig;
  let dir: string;
  let token: string;
  let caData: string;
  let apiPort: number;
  const servers: Server[] = [];
  const clients: KubeHttp[] = [];
  let agent: AgentProcess | undefined;

  /** An exec plugin: counts its runs, records KUBERNETES_EXEC_INFO, prints a token. */
  function plugin(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(
      path,
      `#!/bin/sh
set -e
here=$(dirname "$0")
echo run >> "$here/${name}.runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$here/${name}.info"
${body}
`,
    );
    chmodSync(path, 0o755);
    return path;
  }
  const runs = (name: string) => {
    try {
      return (
        readFileSync(join(dir, `${name}.runs`), 'utf8').split('\n').length - 1
      );
    } catch {
      return 0;
    }
  };

  function kubeconfig(name: string, doc: object): string {
    const path = join(dir, name);
    writeFileSync(path, toYaml(doc), { mode: 0o600 });
    return path;
  }
  const single = (cluster: object, user: object) => ({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    clusters: [{ name: 'plane', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'plane', user: 'u' } }],
  });
  const client = (path: string, env: NodeJS.ProcessEnv = {}) => {
    const c = new KubeHttp(loadKubeTarget(path, env));
    clients.push(c);
    return c;
  };
  const listPods = (c: KubeHttp) =>
    c.json('GET', `/api/v1/namespaces/${NS}/pods`, { query: { limit: 5 } });

  function listen(server: Server, host = '127.0.0.1'): Promise<number> {
    servers.push(server);
    return new Promise(res =>
      server.listen(0, host, () => res((server.address() as any).port)),
    );
  }
  const pipe = (a: Socket, b: Socket) => {
    a.pipe(b).on('error', () => a.destroy());
    b.pipe(a).on('error', () => b.destroy());
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
  };

  beforeAll(async () => {
    plane = await ensurePlane();
    admin = plane.kubeConfig;
    await ensureNamespace(admin, NS);
    const saConfig = parseYaml(
      readFileSync(await agentServiceAccountKubeconfig(admin), 'utf8'),
    );
    token = saConfig.users[0].user.token;
    const cluster = saConfig.clusters[0].cluster;
    caData = cluster['certificate-authority-data'];
    apiPort = Number(new URL(cluster.server).port);
    dir = mkdtempSync(join(tmpdir(), 'spider-kubeconfig-e2e-'));
    writeFileSync(join(dir, 'token'), token);
    if (!caData) throw new Error('the plane kubeconfig carries no CA data');
  });

  afterAll(async () => {
    await agent?.stop();
    for (const c of clients) c.close();
    for (const s of servers) s.close();
  });

  it('an exec plugin credential works, is cached, and is re-run after it expires', async () => {
    // Valid for 3 s: the first list runs the plugin, the second (at once) reuses it.
    plugin(
      'expiring',
      `exp=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$(cat "$here/token")" "$exp"`,
    );
    const c = client(
      kubeconfig(
        'expiring.yaml',
        single(
          {
            server: `https://127.0.0.1:${apiPort}`,
            'certificate-authority-data': caData,
          },
          {
            exec: {
              apiVersion: V1,
              command: './expiring',
              args: [],
              env: [{ name: 'SPIDER_TEST', value: 'yes' }],
              interactiveMode: 'Never',
              provideClusterInfo: true,
            },
          },
        ),
      ),
    );
    const first = await listPods(c);
    expect(first.kind).toBe('PodList');
    await listPods(c);
    expect(runs('expiring')).toBe(1);
    const info = JSON.parse(readFileSync(join(dir, 'expiring.info'), 'utf8'));
    expect(info).toMatchObject({
      apiVersion: V1,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: { server: `https://127.0.0.1:${apiPort}` },
      },
    });
    // After the expirationTimestamp, the next request runs the plugin again.
    await until(
      'the credential to expire and the plugin to run again',
      async () => {
        await listPods(c);
        return runs('expiring') >= 2;
      },
      60_000,
      1_000,
    );
  });

  it('a refused exec credential (401) runs the plugin again at once', async () => {
    // First run prints a token the apiserver refuses, later runs the real one.
    plugin(
      'revoked',
      `if [ "$(wc -l < "$here/revoked.runs")" -le 1 ]; then t=not-a-token; else t=$(cat "$here/token"); fi
printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}' "$t"`,
    );
    const c = client(
      kubeconfig(
        'revoked.yaml',
        single(
          {
            server: `https://127.0.0.1:${apiPort}`,
            'certificate-authority-data': caData,
          },
          {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1beta1',
              command: join(dir, 'revoked'),
            },
          },
        ),
      ),
    );
    expect((await listPods(c)).kind).toBe('PodList');
    expect(runs('revoked')).toBe(2);
  });

  it('tls-server-name verifies the certificate against that name', async () => {
    // 127.0.0.2 is not in the serving certificate; `kubernetes` is.
    const forwarder = createServer(s => pipe(s, connect(apiPort, '127.0.0.1')));
    const port = await listen(forwarder, '127.0.0.2');
    const cluster = {
      server: `https://127.0.0.2:${port}`,
      'certificate-authority-data': caData,
    };
    const without = client(
      kubeconfig('no-sni.yaml', single(cluster, { token })),
    );
    await expect(listPods(without)).rejects.toThrow(
      /altnames|certificate|IP: 127\.0\.0\.2/i,
    );
    const withName = client(
      kubeconfig(
        'sni.yaml',
        single({ ...cluster, 'tls-server-name': 'kubernetes' }, { token }),
      ),
    );
    expect((await listPods(withName)).kind).toBe('PodList');
  });

  it('proxy-url carries requests and watches through an HTTP CONNECT proxy', async () => {
    const asked: string[] = [];
    const proxy = createServer(s => {
      s.once('data', head => {
        const line = head.toString('latin1').split('\r\n')[0];
        asked.push(line);
        const m = /^CONNECT (\S+):(\d+) HTTP\/1\.1$/.exec(line);
        if (!m) {
          s.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
          return;
        }
        // Every name the test uses leads to the plane's apiserver.
        const up = connect(apiPort, '127.0.0.1', () => {
          s.write('HTTP/1.1 200 Connection established\r\n\r\n');
          pipe(s, up);
        });
        up.on('error', () => s.destroy());
      });
    });
    const proxyPort = await listen(proxy);
    const c = client(
      kubeconfig(
        'proxied.yaml',
        single(
          {
            server: `https://apiserver.spider.test:${apiPort}`,
            'tls-server-name': 'kubernetes',
            'certificate-authority-data': caData,
            'proxy-url': `http://127.0.0.1:${proxyPort}`,
          },
          { token },
        ),
      ),
    );
    expect((await listPods(c)).kind).toBe('PodList');
    // A watch through the tunnel sees a pod created meanwhile.
    const abort = new AbortController();
    const seen: string[] = [];
    const watching = c
      .watch(
        `/api/v1/namespaces/${NS}/pods`,
        {},
        e => {
          if (e.type === 'ADDED') seen.push(e.object.metadata.name);
        },
        { signal: abort.signal, idleTimeoutMs: 120_000 },
      )
      .catch(() => undefined);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'proxied' },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    await until('the watch through the proxy to see the pod', async () =>
      seen.includes('proxied'),
    );
    abort.abort();
    await watching;
    expect(asked[0]).toBe(`CONNECT apiserver.spider.test:${apiPort} HTTP/1.1`);
  });

  it('the agent process runs on a two-file KUBECONFIG whose user is an exec plugin', async () => {
    plugin(
      'agent-plugin',
      `printf '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat "$here/token")"`,
    );
    // File one: the context and cluster (and the current-context). File two: the user,
    // plus a same-named cluster and a current-context that must both lose.
    const first = kubeconfig('first.yaml', {
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'agent',
      clusters: [
        {
          name: 'plane',
          cluster: {
            server: `https://127.0.0.1:${apiPort}`,
            'certificate-authority-data': caData,
          },
        },
      ],
      contexts: [{ name: 'agent', context: { cluster: 'plane', user: 'me' } }],
    });
    const secondDir = mkdtempSync(join(dir, 'second-'));
    writeFileSync(
      join(secondDir, 'config'),
      toYaml({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'wrong',
        clusters: [
          { name: 'plane', cluster: { server: 'https://127.0.0.1:1' } },
        ],
        users: [
          {
            name: 'me',
            user: {
              exec: {
                apiVersion: V1,
                command: join(dir, 'agent-plugin'),
                interactiveMode: 'IfAvailable',
              },
            },
          },
        ],
        contexts: [{ name: 'wrong', context: { cluster: 'plane' } }],
      }),
    );
    agent = startAgentProcess({
      // The Controls service is not part of this test; the agent keeps redialling.
      [AGENT_ENV.controlsUrl]: 'http://127.0.0.1:1',
      [AGENT_ENV.token]: 'unused',
      KUBECONFIG: `${first}:${join(secondDir, 'config')}`,
      [AGENT_ENV.httpPort]: '0',
      [AGENT_ENV.dnsPort]: '0',
      [AGENT_ENV.endpointPort]: '0',
      [AGENT_ENV.podIp]: '127.0.0.1',
    });
    const api = await agent.waitForLog(l => l.msg === 'kubernetes API');
    expect(api.via).toContain('context agent');
    expect(api.via).toContain('exec plugin');
    await agent.waitForLog(l => l.msg === 'caches synced', 180_000);
    expect(runs('agent-plugin')).toBeGreaterThanOrEqual(1);
  });
});
