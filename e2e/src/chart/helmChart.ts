import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { buildPlane, cachedHelm } from '../cluster/ControlPlane';
import { REPO_ROOT } from '../paths';

/** The agent's chart in this repository. */
export const CHART_DIR = join(REPO_ROOT, 'controller-agent', 'chart');

/** The cached helm (built with the plane's binaries when missing), or $SPIDER_HELM. */
export async function helmBinary(): Promise<string> {
  if (process.env.SPIDER_HELM) return process.env.SPIDER_HELM;
  const cached = cachedHelm();
  if (cached) return cached;
  return join(await buildPlane(), 'helm');
}

export interface HelmRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with an isolated home (no repositories or plugins of the machine). */
export function runHelm(
  helm: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<HelmRun> {
  const home = mkdtempSync(join(tmpdir(), 'spider-helm-'));
  return new Promise(res => {
    execFile(
      helm,
      args,
      {
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(home, 'cache'),
          HELM_CONFIG_HOME: join(home, 'config'),
          HELM_DATA_HOME: join(home, 'data'),
        },
      },
      (err, stdout, stderr) =>
        res({ code: err ? (err as any).code ?? 1 : 0, stdout, stderr }),
    );
  });
}

/** Writes values to a file for `-f` (the way a user installs the portal's values.yaml). */
export function valuesFile(values: unknown): string {
  const path = join(
    mkdtempSync(join(tmpdir(), 'spider-values-')),
    'values.yaml',
  );
  writeFileSync(path, YAML.stringify(values));
  return path;
}

/** `helm template` of the chart; returns the rendered objects, or throws with helm's message. */
export async function template(
  helm: string,
  values: unknown,
  options: { release?: string; namespace?: string } = {},
): Promise<any[]> {
  const r = await runHelm(helm, [
    'template',
    options.release ?? 'spider-agent',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'spider-system',
    '-f',
    valuesFile(values),
  ]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr.trim()}`);
  return YAML.parseAllDocuments(r.stdout)
    .map(d => d.toJS())
    .filter(Boolean);
}
