import { dirname } from 'node:path';

/** One parsed kubeconfig file. */
export interface KubeconfigFile {
  path: string;
  doc: any;
}

/** A named entry of a merged kubeconfig and the file that defined it. */
export interface Origin<T = any> {
  value: T;
  /** The defining file: relative paths in the entry resolve against its directory. */
  file: string;
  dir: string;
}

export interface MergedKubeconfig {
  currentContext?: string;
  /** The file current-context came from (for messages). */
  currentContextFile?: string;
  clusters: Map<string, Origin>;
  users: Map<string, Origin>;
  contexts: Map<string, Origin>;
  files: string[];
}

/**
 * The files of a KUBECONFIG value, in order, as kubectl reads them: `:` separated, empty
 * entries and repeats dropped.
 */
export function kubeconfigPaths(value: string): string[] {
  const seen = new Set<string>();
  return value.split(':').filter(p => {
    if (!p || seen.has(p)) return false;
    seen.add(p);
    return true;
  });
}

/**
 * Merges kubeconfig files the way kubectl merges a KUBECONFIG list: the first file to
 * define a cluster, user or context name wins (later files never override it), and
 * current-context comes from the first file that sets one. Each entry remembers its
 * file, because kubectl resolves relative paths against the file they were written in.
 */
export function mergeKubeconfigs(files: KubeconfigFile[]): MergedKubeconfig {
  const merged: MergedKubeconfig = {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    files: files.map(f => f.path),
  };
  for (const { path, doc } of files) {
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc))
      throw new Error(`${path}: not a kubeconfig (expected a mapping)`);
    const current = doc['current-context'];
    if (merged.currentContext === undefined && current) {
      merged.currentContext = String(current);
      merged.currentContextFile = path;
    }
    for (const [key, field] of [
      ['clusters', 'cluster'],
      ['users', 'user'],
      ['contexts', 'context'],
    ] as const) {
      const list = doc[key] ?? [];
      if (!Array.isArray(list))
        throw new Error(`${path}: "${key}" must be a list`);
      for (const item of list) {
        const name = item?.name;
        if (typeof name !== 'string' || !name)
          throw new Error(`${path}: an entry of "${key}" has no name`);
        if (merged[key].has(name)) continue;
        merged[key].set(name, {
          value: item[field] ?? {},
          file: path,
          dir: dirname(path),
        });
      }
    }
  }
  return merged;
}

export interface ResolvedContext {
  name: string;
  cluster: Origin;
  clusterName: string;
  /** The user entry, or undefined for a context without a user. */
  user?: Origin;
  userName?: string;
  namespace?: string;
}

/** The context to use (the named one, else current-context) with its cluster and user. */
export function resolveContext(
  merged: MergedKubeconfig,
  name?: string,
): ResolvedContext {
  const where = merged.files.join(':');
  const ctxName = name ?? merged.currentContext;
  if (!ctxName) throw new Error(`${where}: no current-context`);
  const ctx = merged.contexts.get(ctxName);
  if (!ctx) throw new Error(`${where}: no context named "${ctxName}"`);
  const clusterName = ctx.value.cluster;
  const cluster = clusterName ? merged.clusters.get(clusterName) : undefined;
  if (!cluster)
    throw new Error(
      `${where}: context "${ctxName}" names cluster "${
        clusterName ?? ''
      }", which no file defines`,
    );
  const userName = ctx.value.user || undefined;
  const user = userName ? merged.users.get(userName) : undefined;
  if (userName && !user)
    throw new Error(
      `${where}: context "${ctxName}" names user "${userName}", which no file defines`,
    );
  return {
    name: ctxName,
    cluster,
    clusterName,
    user,
    userName,
    namespace: ctx.value.namespace,
  };
}
