import { ChildProcess, execFileSync, spawn } from 'node:child_process';

/**
 * A pod's network stand-in for tests that need real packets: a network namespace holding
 * a given IP (the IP the control plane gave a pod), joined to the host by a veth pair with
 * /32 routes on both sides, so the host reaches the "pod" and the "pod" reaches the host's
 * address on its side (where the agent listens) with nothing else on the machine changed.
 * Root only. Everything made here carries the lab's name and goes on `destroy()`.
 */
export class NetnsLab {
  private readonly procs: ChildProcess[] = [];

  private constructor(
    readonly name: string,
    /** The "pod" address inside the namespace. */
    readonly podIp: string,
    /** The host's address on its side of the veth. */
    readonly hostIp: string,
  ) {}

  static canRun(): boolean {
    if (process.getuid?.() !== 0) return false;
    try {
      execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  /** `name` must be short (interface names are at most 15 bytes): 8 characters or fewer. */
  static create(name: string, podIp: string, hostIp: string): NetnsLab {
    const lab = new NetnsLab(name, podIp, hostIp);
    lab.destroy(); // leftovers of a crashed run
    const h = `${name}h`;
    const p = `${name}p`;
    const ip = (...args: string[]) =>
      execFileSync('ip', args, { stdio: 'pipe' });
    ip('netns', 'add', name);
    ip('link', 'add', h, 'type', 'veth', 'peer', 'name', p);
    ip('link', 'set', p, 'netns', name);
    ip('addr', 'add', `${hostIp}/32`, 'dev', h);
    ip('link', 'set', h, 'up');
    ip('route', 'add', `${podIp}/32`, 'dev', h, 'src', hostIp);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'addr', 'add', `${podIp}/32`, 'dev', p);
    ip('-n', name, 'link', 'set', p, 'up');
    ip('-n', name, 'route', 'add', `${hostIp}/32`, 'dev', p, 'src', podIp);
    ip(
      '-n',
      name,
      'route',
      'add',
      'default',
      'via',
      hostIp,
      'dev',
      p,
      'onlink',
    );
    return lab;
  }

  /** Runs a command inside the namespace; it is killed on destroy(). */
  spawn(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.procs.push(child);
    return child;
  }

  execSync(cmd: string, args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
  }

  destroy(): void {
    for (const p of this.procs) {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
    const quiet = (...args: string[]) => {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // already gone
      }
    };
    quiet('link', 'del', `${this.name}h`);
    quiet('netns', 'del', this.name);
  }
}
