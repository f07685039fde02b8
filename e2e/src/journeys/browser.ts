import fs from 'fs';
import path from 'path';
import { Browser, chromium, Page } from 'playwright-core';
import { JOURNEY_OUTPUT } from './portal';

export const OUTPUT = JOURNEY_OUTPUT;
export const SCREENSHOTS = path.join(OUTPUT, 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Guest sign-in through the portal's sign-in page. */
export async function signIn(page: Page, baseUrl: string) {
  await page.goto(`${baseUrl}/`);
  const enter = page.getByRole('button', { name: /enter/i });
  await enter.waitFor({ timeout: 60_000 });
  await enter.click();
  await enter.waitFor({ state: 'detached', timeout: 60_000 });
  await page
    .locator('nav[aria-label="sidebar nav"]')
    .waitFor({ state: 'attached', timeout: 60_000 });
}

export async function setTheme(page: Page, theme: 'light' | 'dark') {
  await page.evaluate(t => window.localStorage.setItem('theme', t), theme);
}

export interface AxeViolation {
  page: string;
  theme: string;
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

const axeSource = fs.readFileSync(
  require.resolve('axe-core/axe.min.js'),
  'utf8',
);

/** Runs axe-core in the page; returns serious and critical violations. */
export async function axeScan(
  page: Page,
  name: string,
  theme: string,
): Promise<AxeViolation[]> {
  const hasAxe = await page.evaluate(
    () => typeof (window as any).axe !== 'undefined',
  );
  if (!hasAxe) await page.addScriptTag({ content: axeSource });
  const result: any = await page.evaluate(async () =>
    (window as any).axe.run(document, {
      runOnly: {
        type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
      },
    }),
  );
  return (result.violations as any[])
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({
      page: name,
      theme,
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes
        .slice(0, 5)
        .map(
          (n: any) =>
            `${n.target.join(' ')} — ${n.failureSummary?.split('\n')[1] ?? ''}`,
        ),
    }));
}

/**
 * Screenshots the current page in light and dark themes (reloading to switch) and
 * scans each with axe. `ready` waits for the page's content after each reload.
 */
export async function capture(
  page: Page,
  name: string,
  ready: () => Promise<unknown>,
  violations: AxeViolation[],
  options: { reload?: boolean } = {},
) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const theme of ['light', 'dark'] as const) {
    await setTheme(page, theme);
    if (options.reload !== false) {
      await page.reload();
    }
    await ready();
    await page.waitForTimeout(300);
    await page.screenshot({
      path: path.join(SCREENSHOTS, `${name}-${theme}.png`),
      fullPage: true,
    });
    violations.push(...(await axeScan(page, name, theme)));
  }
  await setTheme(page, 'light');
}
