/**
 * The browser journey against the running dev portal, with a protocol-speaking test
 * agent connected. One command, CI-ready:
 *
 *   yarn workspace @spider/e2e journey           # the journey, screenshots, axe
 *   yarn workspace @spider/e2e journey --bench   # … and the benchmark (2,000 attachments, 5,000 workloads)
 *
 *   yarn workspace @spider/e2e journey --build-only   # only build packages/app if its sources changed
 *
 * It builds packages/app when needed (its sources' digest differs from the build's) and starts the backend (which serves the app) on
 * SPIDER_JOURNEY_PORT (7007), or uses SPIDER_PORTAL_URL when a portal already runs.
 * Output: e2e/output/screenshots/*.png, e2e/output/axe.json, e2e/output/bench.json.
 */
import fs from 'fs';
import path from 'path';
// eslint-disable-next-line @backstage/no-forbidden-package-imports, no-restricted-imports, @backstage/no-mixed-plugin-imports -- e2e drives the backend's own test helpers
import { TestAgent } from '@spider/backstage-plugin-spider-backend/src/__testUtils__/TestAgent';
import { AxeViolation, launchBrowser, OUTPUT, signIn } from './browser';
import { ensureAppBuilt, startPortal } from './portal';
import { runTrafficCaptureJourney } from './trafficCapture.journey';
import {
  canRunLiveTraffic,
  runLiveTrafficJourney,
} from './liveTraffic.journey';
import { runBenchmark } from './bench.journey';

async function main() {
  const bench = process.argv.includes('--bench');
  const benchOnly = process.argv.includes('--bench-only');
  const log = (s: string) => console.log(s);
  if (process.argv.includes('--build-only')) {
    // Build under `heavy`, then measure under `quiet` without a build in the run.
    ensureAppBuilt(log);
    return;
  }
  fs.rmSync(path.join(OUTPUT, 'screenshots'), { recursive: true, force: true });
  fs.mkdirSync(path.join(OUTPUT, 'screenshots'), { recursive: true });
  const portal = await startPortal(log);
  const browser = await launchBrowser();
  const agents: TestAgent[] = [];
  const violations: AxeViolation[] = [];
  let failed = false;
  try {
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      bypassCSP: true /* to inject axe-core */,
    });
    context.setDefaultTimeout(30_000);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', e => pageErrors.push(String(e)));
    await signIn(page, portal.baseUrl);
    log('journey: signed in as guest');
    if (!benchOnly) {
      try {
        await runTrafficCaptureJourney({
          page,
          baseUrl: portal.baseUrl,
          log,
          violations,
          agents,
        });
      } catch (e) {
        await page
          .screenshot({
            path: path.join(OUTPUT, 'screenshots', 'FAILED.png'),
            fullPage: true,
          })
          .catch(() => {});
        throw e;
      }
      if (canRunLiveTraffic()) {
        try {
          await runLiveTrafficJourney({
            page,
            baseUrl: portal.baseUrl,
            token: await portal.guestToken(),
            log,
            violations,
          });
        } catch (e) {
          await page
            .screenshot({
              path: path.join(OUTPUT, 'screenshots', 'FAILED-live.png'),
              fullPage: true,
            })
            .catch(() => {});
          throw e;
        }
      } else if (process.env.CI) {
        throw new Error(
          'the live traffic journey needs root (network namespaces) and a plane (SPIDER_PLANE_STATE or SPIDER_TEST_KUBECONFIG); CI provides both',
        );
      } else {
        log(
          'live traffic journey skipped: needs root and a plane (SPIDER_PLANE_STATE or SPIDER_TEST_KUBECONFIG; scripts/test.sh gives both)',
        );
      }
      fs.writeFileSync(
        path.join(OUTPUT, 'axe.json'),
        `${JSON.stringify(violations, null, 2)}\n`,
      );
      if (violations.length) {
        failed = true;
        log(`axe: ${violations.length} serious or critical violation(s):`);
        for (const v of violations)
          log(
            `  [${v.impact}] ${v.page} (${v.theme}): ${v.id} — ${
              v.help
            }\n    ${v.nodes.join('\n    ')}`,
          );
      } else {
        log(
          'axe: no serious or critical violations on any page (light and dark)',
        );
      }
      if (pageErrors.length)
        log(`page errors seen:\n  ${pageErrors.join('\n  ')}`);
    }
    if (bench || benchOnly) {
      const benchPage = await context.newPage();
      const { missed } = await runBenchmark({
        page: benchPage,
        baseUrl: portal.baseUrl,
        token: await portal.guestToken(),
        log,
        agents,
      });
      if (missed && process.env.SPIDER_BENCH_ENFORCE) failed = true;
    }
  } finally {
    agents.forEach(a => a.close());
    await browser.close().catch(() => {});
    await portal.stop();
  }
  log(
    `screenshots: ${path.relative(
      process.cwd(),
      path.join(OUTPUT, 'screenshots'),
    )}`,
  );
  if (failed) process.exit(1);
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
