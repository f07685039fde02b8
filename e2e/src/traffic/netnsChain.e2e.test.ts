import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  Agent as HttpAgent,
  Server,
} from 'node:http';
import { connect as h2connect } from 'node:http2';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { AGENT_ENV } from '@spider/backstage-plugin-spider-common';
import { ControlPlane, ensurePlane } from '../cluster/ControlPlane';
import { startControls } from '../controls/startControls';
import {
  agentServiceAccountKubeconfig,
  AgentProcess,
  apis,
  createDeployment,
  ensureNamespace,
  startAgentProcess,
  until,
} from '../agent/agentFixtures';
import { REPO_ROOT } from '../paths';
import { NetnsLab } from './NetnsLab';

/**
 * The traffic chain with nothing faked but the node: a real control plane (the pod runs
 * on a kwok node, so its network is a network namespace holding the pod's IP), real
 * packets, the real whisperer binary in live mode inside that namespace with the env the
 * agent injected, the real agent, the real Controls service and its REST API.
 */
jest.setTimeout(10 * 60_000);

const OWNER = 'user:default/owner';
const RUN = Date.now().toString(36).slice(-5);
const NS = `traffic-${RUN}`;
const HOST_IP = '169.254.77.1';
const HTTP_PORT = 8080;
const H2_PORT = 8443;
const OUT_PORT = 9090;
const SECRET = `Bearer secret-${RUN}`;
const COOKIE = `session=cookie-${RUN}`;

const describeIfRoot = NetnsLab.canRun() ? describe : describe.skip;
if (!NetnsLab.canRun()) {
  // eslint-disable-next-line no-console
  console.warn(
    'netns traffic chain skipped: needs root and iproute2 (CI runs it as root)',
  );
}

/** The app inside the "pod": HTTP/1.1 and h2c servers; /call-out calls the host (outbound). */
const APP = `
const http = require('node:http'), http2 = require('node:http2');
const [hostIp, outPort] = process.argv.slice(1);
http.createServer((req, res) => {
  let body = '';
  req.on('data', d => (body += d));
  req.on('end', () => {
    if (req.url.startsWith('/call-out')) {
      http.get({ host: hostIp, port: Number(outPort), path: '/upstream?from=pod' }, r => {
        r.resume();
        r.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('called ' + r.statusCode); });
      }).on('error', e => { res.writeHead(502); res.end(String(e)); });
      return;
    }
    const status = req.url.startsWith('/missing') ? 404 : req.url.startsWith('/boom') ? 500 : 200;
    res.writeHead(status, { 'content-type': 'application/json', 'set-cookie': 'srv=server-${RUN}' });
    res.end(JSON.stringify({ path: req.url, got: body.length }));
  });
}).listen(${HTTP_PORT}, '0.0.0.0');
http2.createServer((req, res) => {
  res.writeHead(req.url === '/h2/teapot' ? 418 : 200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ h2: req.url }));
}).listen(${H2_PORT}, '0.0.0.0');
console.log('ready');
`;

describeIfRoot(
  'traffic chain: real packets → whisperer → agent → Controls → REST',
  () => {
    let plane: ControlPlane;
    let admin: KubeConfig;
    let controls: Awaited<ReturnType<typeof startControls>>;
    let seed: { controllerId: string; token: string; whispererId: string };
    let agent: AgentProcess;
    let lab: NetnsLab;
    let upstream: Server;
    let podName: string;
    let podIp: string;
    let attachmentId: string;
    let whisperer: ReturnType<NetnsLab['spawn']>;
    const whispererOut: string[] = [];
    const user = () => controls.as(OWNER);

    beforeAll(async () => {
      const binary = execFileSync(
        join(REPO_ROOT, 'whisperer', 'build.sh'),
        ['--print'],
        {
          encoding: 'utf8',
        },
      ).trim();
      plane = await ensurePlane();
      admin = plane.kubeConfig;
      controls = await startControls();
      seed = await controls.seed(OWNER, {
        name: 'shop http',
        captureFilter: `tcp port ${HTTP_PORT} or tcp port ${H2_PORT} or tcp port ${OUT_PORT}`,
        env: { SPIDER_REDACT_HEADERS: 'x-api-key' },
      });
      await ensureNamespace(admin, NS);
      await createDeployment(admin, NS, 'shopfront', 1);
      const pod = await until(
        'a running shopfront pod with an IP',
        async () => {
          const pods = await apis(admin).core.listNamespacedPod({
            namespace: NS,
            labelSelector: 'app=shopfront',
          });
          return pods.items.find(
            p => p.status?.phase === 'Running' && p.status.podIP,
          );
        },
      );
      podName = pod.metadata!.name!;
      podIp = pod.status!.podIP!;
      lab = NetnsLab.create(`sp${RUN}`, podIp, HOST_IP);
      const app = lab.spawn(process.execPath, [
        '-e',
        APP,
        HOST_IP,
        String(OUT_PORT),
      ]);
      // Collect everything the app prints: a line missed between two waits is never lost.
      let appOut = '';
      app.stdout!.on('data', d => (appOut += String(d)));
      app.stderr!.on('data', d => (appOut += String(d)));
      await until(
        'the app in the pod namespace',
        async () => appOut.includes('ready') || undefined,
        60_000,
        100,
      ).catch(e => {
        throw new Error(`${e}; app output: ${appOut.slice(-1000)}`);
      });

      upstream = createServer((_req, res) => res.end('upstream ok'));
      upstream.listen(OUT_PORT, HOST_IP);
      await once(upstream, 'listening');

      agent = startAgentProcess({
        [AGENT_ENV.controlsUrl]: controls.controlsUrl,
        [AGENT_ENV.token]: seed.token,
        KUBECONFIG: await agentServiceAccountKubeconfig(admin),
        [AGENT_ENV.httpPort]: '0',
        [AGENT_ENV.dnsPort]: '0',
        [AGENT_ENV.endpointPort]: '0',
        [AGENT_ENV.podIp]: HOST_IP,
      });
      await agent.waitForLog(
        l => l.msg === 'welcome from the Controls service',
      );

      const res = await user().post('/attachments', {
        controllerId: seed.controllerId,
        whispererId: seed.whispererId,
        target: { namespace: NS, kind: 'Deployment', name: 'shopfront' },
      });
      if (res.status !== 201)
        throw new Error(`attach: ${res.status} ${JSON.stringify(res.body)}`);
      attachmentId = res.body.id;

      // Run what the agent injected, with the environment it gave the container.
      const injected = await until(
        'the injected whisperer container',
        async () => {
          const p = await apis(admin).core.readNamespacedPod({
            name: podName,
            namespace: NS,
          });
          return p.spec?.ephemeralContainers?.find(c =>
            c.name.startsWith('spider-'),
          );
        },
      );
      const env: Record<string, string> = {};
      for (const e of injected.env ?? []) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name')
          env[e.name] = podName;
        else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace')
          env[e.name] = NS;
      }
      whisperer = lab.spawn(binary, [], env);
      whisperer.stdout!.on('data', d => whispererOut.push(String(d)));
      whisperer.stderr!.on('data', d => whispererOut.push(String(d)));
      await until(
        'the instance reports running',
        async () => {
          const a = (await user().get(`/attachments/${attachmentId}`)).body;
          return a.instances?.some(
            (i: any) => i.state === 'running' && i.reason !== 'Injecting',
          );
        },
        60_000,
      );
      // Capture has started once the whisperer said running; give the socket a moment.
      await new Promise(r => setTimeout(r, 500));
    });

    afterAll(async () => {
      if (whispererOut.length && process.env.SPIDER_WHISPERER_LOGS) {
        // eslint-disable-next-line no-console
        console.log(whispererOut.join(''));
      }
      lab?.destroy();
      upstream?.close();
      await agent?.stop();
      await controls?.close();
      await plane?.stop();
    });

    async function http1(
      agentPool: HttpAgent,
      method: string,
      path: string,
      body?: string,
    ) {
      return new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: podIp,
            port: HTTP_PORT,
            method,
            path,
            agent: agentPool,
            headers: {
              authorization: SECRET,
              cookie: COOKIE,
              'x-api-key': `key-${RUN}`,
              'content-type': 'application/json',
            },
          },
          res => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    }

    const made: Array<{
      method: string;
      path: string;
      status: number;
      protocol: string;
      direction: string;
    }> = [];

    it('lists every exchange the clients made, once, with method, path, status, direction and duration', async () => {
      const pool = new HttpAgent({ keepAlive: true, maxSockets: 2 });
      for (let i = 0; i < 20; i++) {
        const kind =
          ({ 3: 'missing', 7: 'boom' } as Record<number, string>)[i % 10] ??
          'orders';
        const path = `/${kind}/${i}`;
        const method = i % 2 ? 'POST' : 'GET';
        const status = await http1(
          pool,
          method,
          path,
          method === 'POST' ? JSON.stringify({ n: i }) : undefined,
        );
        made.push({
          method,
          path,
          status,
          protocol: 'http/1.1',
          direction: 'inbound',
        });
      }
      pool.destroy();
      const h2 = h2connect(`http://${podIp}:${H2_PORT}`);
      for (const path of ['/h2/a', '/h2/teapot', '/h2/b']) {
        const status = await new Promise<number>((resolve, reject) => {
          const s = h2.request({ ':path': path, authorization: SECRET });
          s.on('response', h => resolve(Number(h[':status'])));
          s.on('error', reject);
          s.resume();
          s.end();
        });
        made.push({
          method: 'GET',
          path,
          status,
          protocol: 'h2',
          direction: 'inbound',
        });
      }
      h2.close();
      const callOut = await http1(new HttpAgent(), 'GET', '/call-out');
      made.push({
        method: 'GET',
        path: '/call-out',
        status: callOut,
        protocol: 'http/1.1',
        direction: 'inbound',
      });
      made.push({
        method: 'GET',
        path: '/upstream?from=pod',
        status: 200,
        protocol: 'http/1.1',
        direction: 'outbound',
      });

      const items = await until(
        `all ${made.length} exchanges listed`,
        async () => {
          const res = await user().get(
            `/attachments/${attachmentId}/traffic?limit=500`,
          );
          expect(res.status).toBe(200);
          return res.body.items.length >= made.length
            ? res.body.items
            : undefined;
        },
        60_000,
        500,
      );

      const seen = items.map((e: any) => ({
        method: e.request.method,
        path: e.request.path,
        status: e.response?.status,
        protocol: e.protocol,
        direction: e.direction,
      }));
      const key = (x: any) =>
        `${x.direction} ${x.protocol} ${x.method} ${x.path} ${x.status}`;
      expect(seen.map(key).sort()).toEqual(made.map(key).sort());
      for (const e of items) {
        expect(e.pod).toBe(podName);
        expect(e.namespace).toBe(NS);
        expect(e.durationMs).toBeGreaterThanOrEqual(0);
        expect(e.durationMs).toBeLessThan(10_000);
        // The pod's own address is the server's when inbound, the client's when outbound.
        expect(e.direction === 'inbound' ? e.server.ip : e.client.ip).toBe(
          podIp,
        );
      }
    });

    it('filters by status class, method, instance and text', async () => {
      const q = async (query: string) =>
        (await user().get(`/attachments/${attachmentId}/traffic?${query}`)).body
          .items;
      expect(
        (await q('status=5xx')).map((e: any) => e.request.path).sort(),
      ).toEqual(
        made
          .filter(m => m.status >= 500)
          .map(m => m.path)
          .sort(),
      );
      expect((await q('method=POST')).length).toBe(
        made.filter(m => m.method === 'POST').length,
      );
      expect((await q(`instance=${podName}`)).length).toBe(made.length);
      expect((await q('instance=some-other-pod')).length).toBe(0);
      expect((await q('q=teapot')).map((e: any) => e.response.status)).toEqual([
        418,
      ]);
    });

    it('never lets a redacted secret leave the pod, and shows the exchange with its body', async () => {
      const list = (
        await user().get(
          `/attachments/${attachmentId}/traffic?q=orders&limit=1`,
        )
      ).body.items;
      const detail = await user().get(`/traffic/${list[0].id}`);
      expect(detail.status).toBe(200);
      const headers = Object.fromEntries(
        detail.body.request.headers.map(([k, v]: string[]) => [
          k.toLowerCase(),
          v,
        ]),
      );
      expect(headers.authorization).toBe('[redacted]');
      expect(headers.cookie).toBe('[redacted]');
      expect(headers['x-api-key']).toBe('[redacted]');
      expect(detail.body.response.body.text).toContain('"path"');
      const har = await user().get(`/attachments/${attachmentId}/traffic.har`);
      expect(har.status).toBe(200);
      const text =
        typeof har.text === 'string' ? har.text : JSON.stringify(har.body);
      expect(JSON.parse(text).log.entries.length).toBe(made.length);
      expect(text).not.toContain(`secret-${RUN}`);
      expect(text).not.toContain(`cookie-${RUN}`);
      expect(text).not.toContain(`server-${RUN}`);
      expect(text).not.toContain(`key-${RUN}`);
    });

    it('maps the callers and the callee', async () => {
      const map = await user().get(`/attachments/${attachmentId}/map`);
      expect(map.status).toBe(200);
      const roles = map.body.peers
        .map((p: any) => `${p.role} ${p.ips.join(',')}`)
        .sort();
      expect(roles).toEqual([`callee ${HOST_IP}`, `caller ${HOST_IP}`]);
      const caller = map.body.peers.find((p: any) => p.role === 'caller');
      expect(caller.calls).toBe(
        made.filter(m => m.direction === 'inbound').length,
      );
      expect(caller.errors).toBe(
        made.filter(m => m.direction === 'inbound' && m.status >= 400).length,
      );
    });

    it('stops the whisperer on detach: it flushes, reports terminated and exits 0', async () => {
      const exited = once(whisperer, 'exit');
      expect(
        (await user().delete(`/attachments/${attachmentId}`)).status,
      ).toBeLessThan(300);
      const [code] = await Promise.race([
        exited,
        new Promise<any[]>((_, rej) =>
          setTimeout(
            () =>
              rej(
                new Error(
                  `whisperer still running: ${whispererOut
                    .join('')
                    .slice(-2000)}`,
                ),
              ),
            60_000,
          ),
        ),
      ]);
      expect(code).toBe(0);
      // Detached traffic stays readable until retention removes it.
      const res = await user().get(
        `/attachments/${attachmentId}/traffic?limit=500`,
      );
      expect(res.body.items.length).toBe(made.length);
    });
  },
);
