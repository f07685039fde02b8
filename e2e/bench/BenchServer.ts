/*
 * The Controls service of a benchmark, in its own process (controlsServer.ts) so its RSS
 * is its own: fork, wait for its "READY <port>", then talk to it as the owner through the
 * REST API, and ask it for its RSS or a GC over IPC. Shared by bench:controls and
 * bench:traffic.
 */
import { ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import { mockCredentials } from '@backstage/backend-test-utils';

const OWNER = 'user:default/owner';

export interface BenchServer {
  port: number;
  /** `ws://…/api/spider/agent/v1`, for TestAgent. */
  agentUrl: string;
  /** REST calls under /api/spider as the owner. */
  api: {
    post(p: string, body: unknown): request.Test;
    get(p: string): request.Test;
  };
  /** The server's RSS in bytes (its memoryUsage logged too with SPIDER_BENCH_VERBOSE). */
  rss(): Promise<number>;
  /** The server's CPU time so far (user + system), in ms. */
  cpu(): Promise<number>;
  /** A full GC in the server (it runs with --expose-gc). */
  gc(): void;
  /** Starts a CPU profile in the server (the inspector's, sampling). */
  profileStart(): void;
  /** Stops it and has the server write it to `file` (.cpuprofile); resolves once written. */
  profileStop(file: string): Promise<void>;
  /** SIGTERM, and waits until it exited. */
  stop(): Promise<void>;
}

/**
 * Starts the server with `env` (default: this process's). Its database: PostgreSQL when
 * env.SPIDER_BENCH_PG is a connection string, else SQLite in memory; its port
 * env.SPIDER_BENCH_PORT, else a free one. SPIDER_BENCH_NODE_OPTIONS go to its node.
 */
export async function startBenchServer(
  env: NodeJS.ProcessEnv = process.env,
): Promise<BenchServer> {
  const server: ChildProcess = fork(
    path.join(__dirname, 'controlsServer.ts'),
    [],
    {
      execArgv: [
        '--import',
        'tsx',
        '--expose-gc',
        ...(process.env.SPIDER_BENCH_NODE_OPTIONS ?? '')
          .split(' ')
          .filter(Boolean),
      ],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      env,
    },
  );
  const exited = new Promise<void>(resolve =>
    server.once('exit', () => resolve()),
  );
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => {
        const m = /READY (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', code => reject(new Error(`server exited ${code}`)));
    });
  } catch (e) {
    server.kill('SIGTERM');
    throw e;
  }
  const stats = () =>
    new Promise<any>(resolve => {
      const onMessage = (m: any) => {
        if (m?.rss === undefined) return;
        server.off('message', onMessage);
        resolve(m);
      };
      server.on('message', onMessage);
      server.send('rss');
    });
  const base = `http://127.0.0.1:${port}`;
  const auth = mockCredentials.user.header(OWNER);
  return {
    port,
    agentUrl: `ws://127.0.0.1:${port}/api/spider/agent/v1`,
    api: {
      post: (p, body) =>
        request(base)
          .post(`/api/spider${p}`)
          .set('Authorization', auth)
          .send(body as any),
      get: p => request(base).get(`/api/spider${p}`).set('Authorization', auth),
    },
    rss: async () => {
      const m = await stats();
      if (process.env.SPIDER_BENCH_VERBOSE) console.log(JSON.stringify(m.mem));
      return m.rss;
    },
    cpu: async () => {
      const { cpu } = await stats();
      return (cpu.user + cpu.system) / 1000;
    },
    gc: () => {
      server.send('gc');
    },
    profileStart: () => {
      server.send('prof-start');
    },
    profileStop: file =>
      new Promise<void>(resolve => {
        const onMessage = (m: any) => {
          if (m?.profiled !== file) return;
          server.off('message', onMessage);
          resolve();
        };
        server.on('message', onMessage);
        server.send({ profStop: file });
      }),
    stop: async () => {
      if (server.exitCode === null && server.signalCode === null)
        server.kill('SIGTERM');
      await exited;
    },
  };
}
