import { silentLogger } from '../log/logger';
import { KubeApiError, WatchEvent } from '../kube/KubeHttp';
import { Watcher, WatchSink } from './Watcher';

type Script = Array<(onEvent: (e: WatchEvent) => void) => Promise<void>>;

/** A scripted API: paged lists, then watches that each play one script step. */
class FakeApi {
  lists: Array<Record<string, unknown>> = [];
  watches: Array<Record<string, unknown>> = [];
  listCalls = 0;
  pages: any[][] = [];
  script: Script = [];
  async json(_m: string, _p: string, opts: any) {
    this.lists.push(opts.query);
    const index = opts.query.continue ? Number(opts.query.continue) : 0;
    if (index === 0) this.listCalls++;
    const page = this.pages[index];
    return {
      items: page,
      metadata: {
        resourceVersion: `list-${this.listCalls}`,
        continue: index + 1 < this.pages.length ? String(index + 1) : undefined,
      },
    };
  }
  async watch(
    _p: string,
    query: any,
    onEvent: (e: WatchEvent) => void,
    opts: { signal: AbortSignal },
  ) {
    this.watches.push(query);
    const step = this.script.shift();
    // A quiet, open watch until the watcher stops.
    if (!step)
      return new Promise<void>(resolve =>
        opts.signal.addEventListener('abort', () => resolve()),
      );
    return step(onEvent);
  }
}

const obj = (name: string, rv: string) => ({
  metadata: { name, namespace: 'n', resourceVersion: rv },
});

describe('Watcher', () => {
  it('lists in pages, watches from the list version, relists on 410, resumes after errors', async () => {
    const api = new FakeApi();
    api.pages = [[obj('a', '1'), obj('b', '2')], [obj('c', '3')]];
    api.script = [
      async on => {
        on({ type: 'ADDED', object: obj('d', '10') });
        on({
          type: 'BOOKMARK',
          object: { metadata: { resourceVersion: '15' } },
        });
      }, // server timeout: resume from the bookmark
      async on => {
        on({
          type: 'ERROR',
          object: { code: 410, message: 'too old resource version' },
        });
      },
      async () => {
        throw new KubeApiError(undefined, undefined, 'ECONNRESET');
      },
    ];
    const seen: string[] = [];
    const sink: WatchSink<string> = {
      replace: (_k, _ns, items) => seen.push(`replace:${items.join(',')}`),
      apply: (_k, type, item) => seen.push(`${type}:${item}`),
    };
    const relists: string[] = [];
    const restarts: string[] = [];
    const w = new Watcher<string>(
      api as any,
      'Pod',
      null,
      o => o.metadata.name,
      sink,
      silentLogger,
      {
        relist: (_k, r) => relists.push(r),
        restart: (_k, r) => restarts.push(r),
      },
      {
        pageSize: 2,
        watchTimeoutSeconds: [1, 1],
        idleGraceMs: 10,
        backoff: { baseMs: 1, maxMs: 2 },
      },
    );
    w.start();
    const until = async (check: () => boolean) => {
      const end = Date.now() + 3000;
      while (!check()) {
        if (Date.now() > end)
          throw new Error(
            `stuck: ${JSON.stringify({ seen, watches: api.watches })}`,
          );
        await new Promise(r => setTimeout(r, 5));
      }
    };
    await until(() => api.watches.length >= 4);
    await w.stop();

    expect(api.lists[0]).toMatchObject({ limit: 2 });
    expect(api.lists[1]).toMatchObject({ limit: 2, continue: '1' });
    expect(seen).toEqual(['replace:a,b,c', 'ADDED:d', 'replace:a,b,c']);
    expect(w.synced).toBe(true);
    expect(api.watches.map(q => q.resourceVersion)).toEqual([
      'list-1',
      '15',
      'list-2',
      'list-2',
    ]);
    expect(
      api.watches.every(
        q => q.allowWatchBookmarks === true && q.timeoutSeconds === 1,
      ),
    ).toBe(true);
    expect(relists).toEqual(['gone']);
    expect(restarts).toEqual(['network']);
  });
});
