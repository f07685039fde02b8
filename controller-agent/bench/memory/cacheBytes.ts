/**
 * Heap the agent's watch caches hold, per pod: the agent's own watchers (every kind it
 * watches, cluster-wide) list the cluster into a ClusterCache in this process; the heap
 * is measured after a full GC before and after, with the watchers stopped (so only the
 * cache is left). Run with --expose-gc, by bench:agent's memory part:
 *
 *   node --expose-gc --import tsx bench/memory/cacheBytes.ts [--kubeconfig FILE]
 *
 * Prints one JSON line: {pods, workloads, services, cacheBytes, bytesPerPod, listMs}.
 */
import { ClusterCache } from '../../src/cluster/ClusterCache';
import { leanPod, leanService, leanWorkload } from '../../src/cluster/lean';
import { WATCHED_KINDS, WatchedKind } from '../../src/cluster/resources';
import { DEFAULT_WATCHER_OPTIONS, Watcher } from '../../src/cluster/Watcher';
import { KubeHttp } from '../../src/kube/KubeHttp';
import { loadKubeTarget } from '../../src/kube/kubeTarget';
import { silentLogger } from '../../src/log/logger';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

async function main() {
  const http = new KubeHttp(loadKubeTarget(arg('kubeconfig') ?? null));
  const lean = (kind: WatchedKind) => {
    if (kind === 'Pod') return leanPod;
    if (kind === 'Service') return leanService;
    return (o: any) => leanWorkload(kind as any, o);
  };
  const noMetrics = { relist() {}, restart() {} };
  // Warm the code paths (parsing, the cache's methods) so the second heap figure holds
  // data, not freshly compiled code: one list of a kind with few objects.
  {
    const warm = new ClusterCache({ include: '*', exclude: [] });
    const w = new Watcher(
      http,
      'Service',
      null,
      leanService,
      warm,
      silentLogger,
      noMetrics,
    );
    w.start();
    while (!w.synced) await new Promise(r => setTimeout(r, 20));
    await w.stop();
  }
  const before = heapAfterGc();
  const cache = new ClusterCache({ include: '*', exclude: [] });
  const watchers = WATCHED_KINDS.map(
    kind =>
      new Watcher(
        http,
        kind,
        null,
        lean(kind),
        cache,
        silentLogger,
        noMetrics,
        {
          ...DEFAULT_WATCHER_OPTIONS,
        },
      ),
  );
  const t0 = performance.now();
  for (const w of watchers) w.start();
  while (!watchers.every(w => w.synced))
    await new Promise(r => setTimeout(r, 20));
  const listMs = performance.now() - t0;
  await Promise.all(watchers.map(w => w.stop()));
  http.close();
  const after = heapAfterGc();
  const counts = cache.counts();
  const pods = counts.Pod;
  const workloads = Object.entries(counts)
    .filter(([k]) => k !== 'Pod' && k !== 'Service')
    .reduce((n, [, v]) => n + v, 0);
  process.stdout.write(
    `${JSON.stringify({
      pods,
      workloads,
      services: counts.Service,
      cacheBytes: after - before,
      bytesPerPod: pods ? Math.round((after - before) / pods) : null,
      listMs: Math.round(listMs),
    })}\n`,
  );
}

main().catch(e => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
