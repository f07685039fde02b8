import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { apis } from '../agent/agentFixtures';

/** `dig` against 127.0.0.1:port; returns the +short answer lines. */
export function dig(port: number, args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'dig',
      [
        '@127.0.0.1',
        '-p',
        String(port),
        '+short',
        '+time=2',
        '+tries=1',
        ...args,
      ],
      { timeout: 10_000 },
      (err, stdout) => {
        if (err) reject(err);
        else
          resolve(
            stdout
              .split('\n')
              .map(l => l.trim())
              .filter(l => l && !l.startsWith(';')),
          );
      },
    );
  });
}

/**
 * One HTTP request from `localAddress` (a loopback address playing a pod IP), with the
 * whisperer's instance secret when given.
 */
export function httpFrom(
  localAddress: string,
  port: number,
  method: string,
  path: string,
  secret?: string,
): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        localAddress,
        agent: false,
        headers: secret ? { authorization: `Bearer ${secret}` } : {},
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any = text;
          try {
            json = JSON.parse(text);
          } catch {
            // keep text
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A kubeconfig (file and object) acting as a ServiceAccount, with a TokenRequest token. */
export async function serviceAccountKubeconfig(
  admin: KubeConfig,
  namespace: string,
  name: string,
): Promise<{ path: string; kc: KubeConfig }> {
  const tr = await apis(admin).core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } } as any,
  });
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'plane' }],
    users: [{ name: `${namespace}-${name}`, token: tr.status!.token }],
    contexts: [{ name: 'sa', cluster: 'plane', user: `${namespace}-${name}` }],
    currentContext: 'sa',
  });
  const path = join(mkdtempSync(join(tmpdir(), 'spider-sa-kc-')), 'kubeconfig');
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return { path, kc };
}

/**
 * The Install tab's commands as a user runs them: the token pasted on stdin (here from
 * $SPIDER_AGENT_TOKEN, in the environment, not on a command line).
 */
export function withTokenOnStdin(commands: string): string {
  return `printf '%s\\n' "$SPIDER_AGENT_TOKEN" | {\n${commands}\n}`;
}

/** The instance secret the agent put in an injected whisperer's environment (what it sends). */
export async function instanceSecretOf(
  admin: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
): Promise<string> {
  const p = await apis(admin).core.readNamespacedPod({
    name: pod,
    namespace,
  });
  const c = p.spec?.ephemeralContainers?.find(e => e.name === container);
  const secret = c?.env?.find(e => e.name === 'SPIDER_INSTANCE_SECRET')?.value;
  if (!secret) throw new Error(`${namespace}/${pod} ${container}: no secret`);
  return secret;
}

/** The HTTP status of a failed (or successful: 200) API call. */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (e: any) {
    return e?.code ?? e?.statusCode ?? e?.response?.statusCode ?? -1;
  }
}
