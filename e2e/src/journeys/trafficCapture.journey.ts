import fs from 'fs';
import path from 'path';
import { Page } from 'playwright-core';
// eslint-disable-next-line @backstage/no-forbidden-package-imports, no-restricted-imports, @backstage/no-mixed-plugin-imports -- e2e drives the backend's own test helpers
import { TestAgent } from '@spider/backstage-plugin-spider-backend/src/__testUtils__/TestAgent';
import { AxeViolation, capture, OUTPUT } from './browser';

export interface JourneyContext {
  page: Page;
  baseUrl: string;
  log: (s: string) => void;
  violations: AxeViolation[];
  agents: TestAgent[];
}

/** The demo cluster the test agent pretends to run. */
export const DEMO_WORKLOADS = [
  {
    namespace: 'payments',
    kind: 'Deployment',
    name: 'payments',
    labels: { 'backstage.io/kubernetes-id': 'payments' },
    replicas: 2,
    pods: 2,
  },
  {
    namespace: 'payments',
    kind: 'StatefulSet',
    name: 'payments-ledger',
    labels: {},
    replicas: 1,
    pods: 1,
  },
  {
    namespace: 'team-b',
    kind: 'Deployment',
    name: 'checkout',
    labels: { 'backstage.io/kubernetes-id': 'checkout' },
    replicas: 3,
    pods: 3,
  },
  {
    namespace: 'team-b',
    kind: 'CronJob',
    name: 'checkout-report',
    labels: {},
    replicas: null,
    pods: 0,
  },
];

export function agentUrl(baseUrl: string) {
  return `${baseUrl.replace(/^http/, 'ws')}/api/spider/agent/v1`;
}

async function expectText(page: Page, text: string | RegExp, timeout = 30_000) {
  await page.getByText(text).first().waitFor({ timeout });
}

/**
 * Create a Controller and see its token once → connect a protocol-speaking agent →
 * create a Whisperer with PT2M → open the payments entity's Traffic capture tab →
 * attach → see instances → detach → see it detached. Screenshots (light and dark)
 * and an axe scan of every page on the way.
 */
export async function runTrafficCaptureJourney(ctx: JourneyContext) {
  const { page, baseUrl, log, violations } = ctx;
  const step = (s: string) => log(`journey: ${s}`);
  const name = `journey-${Date.now().toString(36)}`;

  step('open the Controllers page');
  await page.goto(`${baseUrl}/spider`);
  await page
    .getByRole('heading', { name: 'Controllers', exact: true })
    .waitFor();

  step(`register Controller ${name}`);
  await page
    .getByRole('button', { name: 'Register Controller' })
    .first()
    .click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Register' }).click();
  await dialog.getByText('Name must not be empty').waitFor();
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByRole('button', { name: 'Register' }).click();
  const tokenInput = dialog.getByTestId('agent-token');
  await tokenInput.waitFor();
  const token = await tokenInput.inputValue();
  if (!/\S{20,}/.test(token))
    throw new Error(`the token looks wrong: ${token}`);
  await dialog.getByText(/It is shown only once/).waitFor();
  fs.mkdirSync(path.join(OUTPUT, 'screenshots'), { recursive: true });
  await page.screenshot({
    path: path.join(OUTPUT, 'screenshots', 'controller-token-once-light.png'),
  });
  await dialog.getByRole('button', { name: 'I have copied the token' }).click();
  await dialog.waitFor({ state: 'detached' });

  step('connect the test agent with the token');
  const agent = new TestAgent({
    url: agentUrl(baseUrl),
    token,
    workloads: DEMO_WORKLOADS as any,
    podsPerWorkload: 2,
  });
  ctx.agents.push(agent);
  await agent.connect();
  agent.sendStatus({
    watched: { Pod: 8, Deployment: 2, StatefulSet: 1, CronJob: 1 },
  });
  const row = page.getByRole('row').filter({ hasText: name });
  await row.getByText('Connected').waitFor({ timeout: 30_000 });
  step('the list shows the Controller connected (live)');

  await capture(
    page,
    'controllers',
    () =>
      page
        .getByRole('row')
        .filter({ hasText: name })
        .getByText('Connected')
        .waitFor(),
    violations,
  );

  step('open the Controller page; the token is not shown anywhere any more');
  await page.getByRole('link', { name }).click();
  await page.getByRole('tab', { name: 'Status' }).waitFor();
  await expectText(page, 'test-agent/1.0.0');
  const controllerUrl = page
    .url()
    .replace(/\/(status|attachments|share|install)$/, '');
  if ((await page.content()).includes(token))
    throw new Error('the agent token is shown again on the Controller page');
  await capture(
    page,
    'controller-status',
    () => page.getByText('Watched objects').waitFor(),
    violations,
  );
  for (const tab of ['attachments', 'share', 'install'] as const) {
    await page.goto(`${controllerUrl}/${tab}`);
    const ready = {
      attachments: () =>
        page
          .getByText(/No live attachments|Attachments/)
          .first()
          .waitFor(),
      share: () => page.getByRole('button', { name: 'Add grant' }).waitFor(),
      install: () => page.getByText('Install commands').waitFor(),
    }[tab];
    await ready();
    if (tab === 'install') {
      await page
        .locator('pre, code')
        .first()
        .waitFor({ timeout: 30_000 })
        .catch(() => undefined);
      if ((await page.content()).includes(token))
        throw new Error('the agent token is shown on the Install tab');
    }
    await capture(page, `controller-${tab}`, ready, violations);
  }

  step('create Whisperer http-capture with time to live PT2M');
  await page.goto(`${baseUrl}/spider/whisperers`);
  await page
    .getByRole('heading', { name: 'Whisperers', exact: true })
    .waitFor();
  await page.getByRole('button', { name: 'Create Whisperer' }).first().click();
  const wd = page.getByRole('dialog');
  const whispererName = `http-capture-${Date.now().toString(36)}`;
  await wd.getByLabel('Name').fill(whispererName);
  await wd.getByLabel('Capture filter').fill('tcp port 80');
  await wd.getByLabel('Time to live').fill('PT2M');
  await wd
    .getByText('Attachments end by themselves after 2 minutes (PT2M)')
    .waitFor();
  await wd.getByRole('button', { name: 'Create' }).click();
  await wd.waitFor({ state: 'detached' });
  await page
    .getByRole('row')
    .filter({ hasText: whispererName })
    .getByText('2 minutes')
    .waitFor();
  await capture(
    page,
    'whisperers',
    () => page.getByRole('row').filter({ hasText: whispererName }).waitFor(),
    violations,
  );
  await page.getByRole('link', { name: whispererName }).click();
  await page.getByText('Configuration').waitFor();
  await capture(
    page,
    'whisperer-detail',
    () => page.getByText('Configuration').waitFor(),
    violations,
  );

  step("open the payments entity's Traffic capture tab");
  const entityTab = `${baseUrl}/catalog/default/component/payments/traffic-capture`;
  await page.goto(entityTab);
  const workloadRow = page
    .getByTestId('entity-workload-payments')
    .filter({ hasText: name });
  await workloadRow.waitFor({ timeout: 60_000 });
  await capture(
    page,
    'entity-traffic-capture',
    () => page.getByTestId('entity-workload-payments').first().waitFor(),
    violations,
  );

  step('attach from the entity');
  await page
    .getByTestId('entity-workload-payments')
    .filter({ hasText: name })
    .getByRole('button', { name: 'Attach' })
    .click();
  const ad = page.getByRole('dialog', { name: 'Attach a whisperer' });
  await ad.getByLabel('Whisperer').click();
  await page.getByRole('option', { name: new RegExp(whispererName) }).click();
  await ad
    .getByTestId('expiry-preview')
    .getByText(/Time to live 2 minutes/)
    .waitFor();
  await capture(
    page,
    'attach-dialog',
    async () => {
      await page
        .getByTestId('entity-workload-payments')
        .filter({ hasText: name })
        .getByRole('button', { name: 'Attach' })
        .click();
      await ad.getByLabel('Whisperer').click();
      await page
        .getByRole('option', { name: new RegExp(whispererName) })
        .click();
      await ad.getByTestId('expiry-preview').waitFor();
    },
    violations,
  );
  await ad.getByRole('button', { name: 'Attach', exact: true }).click();
  await ad.waitFor({ state: 'detached' });

  step('see the whisperer instances reported by the agent');
  const line = page
    .locator('[data-testid^="entity-attachment-"]')
    .filter({ hasText: whispererName });
  await line.getByText('2/2 instances running').waitFor({ timeout: 30_000 });
  await line.getByTestId('countdown').waitFor();
  await capture(
    page,
    'entity-attached',
    () =>
      page
        .locator('[data-testid^="entity-attachment-"]')
        .first()
        .getByText(/instances running/)
        .waitFor(),
    violations,
  );
  await line.getByRole('link', { name: /instances running/ }).click();
  await page.getByText('Whisperer instances (2)').waitFor();
  await page
    .getByTestId('instance-pod-0')
    .getByText('Running')
    .first()
    .waitFor();
  await page
    .getByTestId('instance-pod-1')
    .getByText('Running')
    .first()
    .waitFor();
  const attachmentUrl = page.url();
  await capture(
    page,
    'attachment',
    () => page.getByText('Whisperer instances (2)').waitFor(),
    violations,
  );
  await page
    .getByRole('link', { name: /^Show the traffic of/ })
    .first()
    .click();
  await page.getByRole('button', { name: /Stop filtering on pod-0/ }).waitFor();

  step('detach from the entity tab');
  await page.goto(entityTab);
  const line2 = page
    .locator('[data-testid^="entity-attachment-"]')
    .filter({ hasText: whispererName });
  await line2.getByRole('button', { name: /Detach/ }).click();
  const confirm = page.getByRole('dialog');
  await confirm.getByRole('button', { name: 'Detach' }).click();
  await confirm.waitFor({ state: 'detached' });
  await line2.waitFor({ state: 'detached', timeout: 30_000 });

  step('see it detached');
  await page.goto(attachmentUrl);
  await page
    .getByText('Detached', { exact: true })
    .first()
    .waitFor({ timeout: 30_000 });
  await page
    .getByText(/Stopped because the attachment was detached|Detached/)
    .first()
    .waitFor();
  await capture(
    page,
    'attachment-detached',
    () => page.getByText('Detached', { exact: true }).first().waitFor(),
    violations,
  );
  step('done');
  return { controllerName: name, whispererName };
}
