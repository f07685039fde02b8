import { ChildProcess, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { apis, until } from '../agent/agentFixtures';
import { REPO_ROOT } from '../paths';
import { NetnsLab } from './NetnsLab';

/** The whisperer binary (built once and cached by whisperer/build.sh). */
export function whispererBinary(): string {
  return execFileSync(join(REPO_ROOT, 'whisperer', 'build.sh'), ['--print'], {
    encoding: 'utf8',
  }).trim();
}

/**
 * A kwok pod made real enough to capture: its IP lives in a network namespace (NetnsLab)
 * where a small HTTP/1.1 app serves, and the whisperer the agent injected into the pod's
 * spec is run there with exactly the environment of that container. kwok nodes run no
 * containers; everything else on the path (agent, Controls, REST, UI) is the real thing.
 */
export class PodStandIn {
  private whisperer: ChildProcess | undefined;
  readonly whispererOutput: string[] = [];

  private constructor(
    readonly lab: NetnsLab,
    readonly namespace: string,
    readonly podName: string,
    readonly podIp: string,
  ) {}

  static async start(opts: {
    kc: KubeConfig;
    namespace: string;
    labelSelector: string;
    labName: string;
    hostIp: string;
    /** Node.js source run in the namespace; must print "ready" once listening. */
    app: string;
    appArgs?: string[];
  }): Promise<PodStandIn> {
    const pod = await until('a running pod with an IP', async () => {
      const pods = await apis(opts.kc).core.listNamespacedPod({
        namespace: opts.namespace,
        labelSelector: opts.labelSelector,
      });
      return pods.items.find(
        p => p.status?.phase === 'Running' && p.status.podIP,
      );
    });
    const lab = NetnsLab.create(opts.labName, pod.status!.podIP!, opts.hostIp);
    const standIn = new PodStandIn(
      lab,
      opts.namespace,
      pod.metadata!.name!,
      pod.status!.podIP!,
    );
    const app = lab.spawn(process.execPath, [
      '-e',
      opts.app,
      ...(opts.appArgs ?? []),
    ]);
    let out = '';
    app.stdout!.on('data', d => (out += String(d)));
    app.stderr!.on('data', d => (out += String(d)));
    await until(
      'the app in the pod namespace',
      async () => out.includes('ready') || undefined,
      60_000,
      100,
    );
    return standIn;
  }

  /** Waits for the agent's injection, then runs that whisperer in the pod's namespace. */
  async runInjectedWhisperer(
    kc: KubeConfig,
    binary = whispererBinary(),
  ): Promise<ChildProcess> {
    const injected = await until(
      'the injected whisperer container',
      async () => {
        const p = await apis(kc).core.readNamespacedPod({
          name: this.podName,
          namespace: this.namespace,
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
        env[e.name] = this.podName;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace')
        env[e.name] = this.namespace;
    }
    this.whisperer = this.lab.spawn(binary, [], env);
    this.whisperer.stdout!.on('data', d =>
      this.whispererOutput.push(String(d)),
    );
    this.whisperer.stderr!.on('data', d =>
      this.whispererOutput.push(String(d)),
    );
    return this.whisperer;
  }

  async whispererExit(timeoutMs: number): Promise<number | null> {
    const w = this.whisperer;
    if (!w) throw new Error('no whisperer was started');
    if (w.exitCode !== null) return w.exitCode;
    const [code] = (await Promise.race([
      once(w, 'exit'),
      new Promise((_, reject) =>
        setTimeout(
          () =>
            reject(
              new Error(
                `whisperer still running: ${this.whispererOutput
                  .join('')
                  .slice(-2000)}`,
              ),
            ),
          timeoutMs,
        ),
      ),
    ])) as [number | null];
    return code;
  }

  destroy() {
    this.lab.destroy();
  }
}
