import fs from 'fs';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import path from 'path';
import { KubeConfig } from '@kubernetes/client-node';
import { AGENT_ENV } from '@spider/backstage-plugin-spider-common';
import { Page } from 'playwright-core';
import {
  agentServiceAccountKubeconfig,
  AgentProcess,
  apis,
  ensureNamespace,
  startAgentProcess,
} from '../agent/agentFixtures';
import { NetnsLab } from '../traffic/NetnsLab';
import { PodStandIn } from '../traffic/PodStandIn';
import { AxeViolation, capture, OUTPUT } from './browser';

export interface LiveTrafficContext {
  page: Page;
  baseUrl: string;
  token: string;
  log: (s: string) => void;
  violations: AxeViolation[];
}

const HOST_IP = '169.254.78.1';
const PORT = 8080;

/** The "payments" app inside the pod's network namespace: JSON, some 4xx and 5xx. */
const APP = `
require('node:http').createServer((req, res) => {
  let n = 0;
  req.on('data', d => (n += d.length));
  req.on('end', () => {
    const status = req.url.includes('missing') ? 404 : req.url.includes('fail') ? 503 : 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ charge: req.url, amount: 42, received: n }));
  });
}).listen(${PORT}, '0.0.0.0', () => console.log('ready'));
`;

/** True when this machine can run the journey: root (network namespaces) and a plane. */
export function canRunLiveTraffic(): boolean {
  return NetnsLab.canRun() && !!planeKubeconfig();
}

/** The test cluster: SPIDER_TEST_KUBECONFIG, or the plane scripts/test.sh started. */
function planeKubeconfig(): string | undefined {
  if (process.env.SPIDER_TEST_KUBECONFIG)
    return process.env.SPIDER_TEST_KUBECONFIG;
  const state = process.env.SPIDER_PLANE_STATE;
  return state && fs.existsSync(path.join(state, 'kubeconfig'))
    ? path.join(state, 'kubeconfig')
    : undefined;
}

/**
 * The traffic view with real traffic: a Controller served by the real agent (host process)
 * against the test plane, the payments workload's pod standing in a network namespace
 * with real HTTP served and requested, the real whisperer capturing it. In the browser:
 * attach from the payments entity tab, see exchanges arrive live, filter on the instance
 * from the instances table, open an exchange (redacted header marked), export HAR and
 * parse it, and find the caller on the map.
 */
export async function runLiveTrafficJourney(ctx: LiveTrafficContext) {
  const { page, baseUrl, log, violations } = ctx;
  const step = (s: string) => log(`live traffic: ${s}`);
  const run = Date.now().toString(36).slice(-5);
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`${baseUrl}/api/spider${p}`, {
      method,
      headers: {
        authorization: `Bearer ${ctx.token}`,
        'content-type': 'application/json',
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json: any = await r.json().catch(() => ({}));
    if (!r.ok)
      throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };

  const kc = new KubeConfig();
  kc.loadFromFile(planeKubeconfig()!);
  const controllerName = `live-${run}`;
  const controller = await api('POST', '/controllers', {
    name: controllerName,
  });
  const whispererName = `payments-http-${run}`;
  await api('POST', '/whisperers', {
    name: whispererName,
    captureFilter: `tcp port ${PORT}`,
    timeToLive: 'PT10M',
  });
  const namespace = `shop-live-${run}`;
  await ensureNamespace(kc, namespace);
  // The payments entity finds its workload by backstage.io/kubernetes-id.
  await apis(kc).apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: {
        name: 'payments',
        labels: { app: 'payments', 'backstage.io/kubernetes-id': 'payments' },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'payments' } },
        template: {
          metadata: { labels: { app: 'payments' } },
          spec: {
            containers: [{ name: 'app', image: 'registry.invalid/payments:1' }],
          },
        },
      },
    },
  });
  const standIn = await PodStandIn.start({
    kc,
    namespace,
    labelSelector: 'app=payments',
    labName: `lj${run}`,
    hostIp: HOST_IP,
    app: APP,
  });
  step(
    `pod ${standIn.podName} stands in network namespace ${standIn.lab.name} at ${standIn.podIp}`,
  );

  let agent: AgentProcess | undefined;
  let load: NodeJS.Timeout | undefined;
  let sent = 0;
  try {
    agent = startAgentProcess({
      [AGENT_ENV.controlsUrl]: `${baseUrl}/api/spider`,
      [AGENT_ENV.token]: controller.token,
      KUBECONFIG: await agentServiceAccountKubeconfig(kc),
      [AGENT_ENV.httpPort]: '0',
      [AGENT_ENV.dnsPort]: '0',
      [AGENT_ENV.endpointPort]: '0',
      [AGENT_ENV.podIp]: HOST_IP,
    });
    await agent.waitForLog(
      l => l.msg === 'welcome from the Controls service',
      60_000,
    );
    step('the real agent is connected');

    step("attach from the payments entity's Traffic capture tab");
    const entityTab = `${baseUrl}/catalog/default/component/payments/traffic-capture`;
    await page.goto(entityTab);
    const row = page
      .getByTestId('entity-workload-payments')
      .filter({ hasText: controllerName })
      .filter({ hasText: namespace });
    await row.waitFor({ timeout: 60_000 });
    await row.getByRole('button', { name: 'Attach' }).click();
    const dialog = page.getByRole('dialog', { name: 'Attach a whisperer' });
    await dialog.getByLabel('Whisperer').click();
    await page.getByRole('option', { name: new RegExp(whispererName) }).click();
    await dialog.getByRole('button', { name: 'Attach', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });

    await standIn.runInjectedWhisperer(kc);
    step('the injected whisperer runs in the pod namespace');

    // Real requests from the host to the pod, a few per second, with secrets to redact.
    const pool = new HttpAgent({ keepAlive: true, maxSockets: 2 });
    const paths = [
      '/v1/charges',
      '/v1/charges/7',
      '/v1/charges/missing',
      '/v1/charges/fail',
    ];
    load = setInterval(() => {
      const p = paths[sent++ % paths.length];
      const req = httpRequest(
        {
          host: standIn.podIp,
          port: PORT,
          path: p,
          method: p === '/v1/charges' ? 'POST' : 'GET',
          agent: pool,
          headers: {
            authorization: `Bearer journey-secret-${run}`,
            'content-type': 'application/json',
          },
        },
        res => res.resume(),
      );
      req.on('error', () => {});
      req.end(p === '/v1/charges' ? JSON.stringify({ amount: 42 }) : undefined);
    }, 250);

    step('see exchanges arrive live in the entity tab');
    const grid = page.getByRole('grid', { name: 'Captured exchanges' });
    await grid.waitFor({ timeout: 60_000 });
    const rows = grid.getByRole('row');
    await page.waitForFunction(
      () =>
        (document.querySelectorAll('[role="grid"] [role="row"]').length ?? 0) >
        3,
      undefined,
      { timeout: 60_000 },
    );
    const before = await rows.count();
    // Live: more rows appear without a reload (or a "new" marker when the list is not at the top).
    await page.waitForFunction(
      n =>
        document.querySelectorAll('[role="grid"] [role="row"]').length > n ||
        /\d+ new/.test(document.body.innerText),
      before,
      { timeout: 30_000 },
    );
    await grid.getByText('/v1/charges/fail').first().waitFor();
    await capture(
      page,
      'entity-traffic-live',
      () =>
        page
          .getByRole('grid', { name: 'Captured exchanges' })
          .getByText('/v1/charges')
          .first()
          .waitFor({ timeout: 60_000 }),
      violations,
    );

    step(
      'open the attachment and filter on the instance from the instances table',
    );
    const attachments = await api(
      'GET',
      `/attachments?controllerId=${controller.id}`,
    );
    const attachmentId = attachments.items[0].id as string;
    await page.goto(`${baseUrl}/spider/attachments/${attachmentId}`);
    await page
      .getByText('Whisperer instances (1)')
      .waitFor({ timeout: 60_000 });
    await page
      .getByRole('link', { name: /^Show the traffic of/ })
      .first()
      .click();
    await page.waitForURL(/instance=/);
    await page
      .getByRole('button', {
        name: new RegExp(`Stop filtering on ${standIn.podName}`),
      })
      .waitFor();
    const filtered = page.getByRole('grid', { name: 'Captured exchanges' });
    await filtered
      .getByText('/v1/charges')
      .first()
      .waitFor({ timeout: 30_000 });
    await capture(
      page,
      'attachment-traffic-instance',
      () =>
        page
          .getByRole('grid', { name: 'Captured exchanges' })
          .getByText('/v1/charges')
          .first()
          .waitFor({ timeout: 30_000 }),
      violations,
    );

    step('open one exchange: the authorization header shows as redacted');
    await filtered.getByText('/v1/charges/7').first().click();
    const requestHeaders = page.getByRole('table', { name: 'Request headers' });
    await requestHeaders.waitFor();
    await requestHeaders.getByText('redacted').first().waitFor();
    if ((await page.content()).includes(`journey-secret-${run}`))
      throw new Error('a redacted secret reached the browser');
    await page.screenshot({
      path: path.join(OUTPUT, 'screenshots', 'exchange-drawer-light.png'),
    });
    await page.getByRole('button', { name: 'Close the exchange' }).click();

    step('export HAR and parse it');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      page.getByRole('button', { name: 'Export HAR' }).first().click(),
    ]);
    const harPath = path.join(OUTPUT, `traffic-${run}.har`);
    await download.saveAs(harPath);
    const harText = fs.readFileSync(harPath, 'utf8');
    const har = JSON.parse(harText);
    if (!(har.log?.entries?.length > 0))
      throw new Error('the HAR has no entries');
    if (harText.includes(`journey-secret-${run}`))
      throw new Error('the HAR holds a redacted secret');
    step(`HAR with ${har.log.entries.length} entries`);

    step('the map lists the caller');
    await page.getByRole('tab', { name: 'Map' }).click();
    const peers = page.getByRole('table', { name: 'Peers of the workload' });
    await peers.waitFor({ timeout: 30_000 });
    await peers.getByText(HOST_IP).first().waitFor({ timeout: 30_000 });
    await capture(
      page,
      'attachment-traffic-map',
      async () => {
        await page.getByRole('tab', { name: 'Map' }).click();
        await page
          .getByRole('table', { name: 'Peers of the workload' })
          .getByText(HOST_IP)
          .first()
          .waitFor({ timeout: 30_000 });
      },
      violations,
    );

    step('detach: the whisperer flushes and exits 0');
    await api('DELETE', `/attachments/${attachmentId}`);
    const code = await standIn.whispererExit(60_000);
    if (code !== 0) throw new Error(`the whisperer exited with ${code}`);
    step(`done (${sent} requests sent)`);
  } finally {
    if (load) clearInterval(load);
    await agent?.stop();
    standIn.destroy();
  }
}
