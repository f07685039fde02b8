import { spawn } from 'node:child_process';
import {
  credentialFresh,
  ExecClusterInfo,
  ExecConfig,
  ExecCredential,
  execInfo,
  parseExecCredential,
} from './execCredential';

const MAX_OUTPUT_BYTES = 1024 * 1024;

/**
 * Runs a kubeconfig's exec credential plugin and caches its answer until it expires or
 * the apiserver rejects it. Concurrent callers share one run.
 */
export class ExecPlugin {
  private cached: ExecCredential | undefined;
  private running: Promise<ExecCredential> | undefined;
  /** How many times the plugin has run (for logs and tests). */
  runs = 0;

  constructor(
    private readonly config: ExecConfig,
    private readonly cluster: ExecClusterInfo,
    private readonly opts: {
      env?: NodeJS.ProcessEnv;
      timeoutMs?: number;
      now?: () => number;
      onStderr?: (text: string) => void;
    } = {},
  ) {}

  async credential(): Promise<ExecCredential> {
    const now = (this.opts.now ?? Date.now)();
    if (credentialFresh(this.cached, now)) return this.cached;
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The apiserver refused `used`: the next call runs the plugin again. */
  invalidate(used: ExecCredential): void {
    if (this.cached === used) this.cached = undefined;
  }

  private async run(): Promise<ExecCredential> {
    const { config } = this;
    this.runs++;
    const env = {
      ...(this.opts.env ?? process.env),
      ...Object.fromEntries(config.env.map(e => [e.name, e.value])),
      KUBERNETES_EXEC_INFO: execInfo(config, this.cluster),
    };
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn(config.command, config.args, {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: timeoutMs,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      child.stdout.on('data', (b: Buffer) => {
        size += b.length;
        if (size > MAX_OUTPUT_BYTES) {
          child.kill('SIGKILL');
          return;
        }
        out.push(b);
      });
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          new Error(
            e.code === 'ENOENT'
              ? `exec plugin ${config.command} not found${
                  config.installHint ? `: ${config.installHint}` : ''
                }`
              : `exec plugin ${config.command}: ${e.message}`,
          ),
        ),
      );
      child.on('close', (code, signal) => {
        const stderr = Buffer.concat(err).toString('utf8').trim();
        if (stderr) this.opts.onStderr?.(stderr);
        if (size > MAX_OUTPUT_BYTES)
          reject(
            new Error(
              `exec plugin ${config.command}: printed more than ${MAX_OUTPUT_BYTES} bytes`,
            ),
          );
        else if (code !== 0)
          reject(
            new Error(
              `exec plugin ${config.command} failed (${
                signal ? `signal ${signal}` : `exit ${code}`
              }${
                signal === 'SIGTERM' ? `, no answer in ${timeoutMs} ms` : ''
              })${stderr ? `: ${stderr.slice(-500)}` : ''}`,
            ),
          );
        else resolve(Buffer.concat(out).toString('utf8'));
      });
    });
    const cred = parseExecCredential(stdout, config);
    this.cached = cred;
    return cred;
  }
}
