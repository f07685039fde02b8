import type { PodDirectory } from '../cluster/PodDirectory';
import { ipFromReverseName, addressBytes, canonicalIp } from './reverse';
import { podPtrName, servicePtrName } from './ptrNames';
import { DNS_TYPE, encodeAnswerRecord, encodeName } from './wire';

/** A name the agent answers itself: records (owner = the question), or none (NODATA). */
export interface LocalAnswer {
  records: Buffer | null;
  count: number;
}

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

export interface AnswerTableOptions {
  zone: string;
  /** TTL of PTR answers; short because pod IPs are reused soon after a pod goes. */
  ptrTtl: number;
  aliasTtl: number;
  /** Reverse names remembered between directory changes (a flood of misses stays bounded). */
  maxMemo: number;
}

const NODATA: LocalAnswer = { records: null, count: 0 };

export const HOST_ALIAS_LIMITS = {
  aliases: 1000,
  hostnamesPerAlias: 32,
  addressesPerName: 32,
};

/** Everything the agent answers for one name, pre-encoded (owner = the question). */
export interface AnswerEntry {
  ptr: Buffer | null;
  a: Buffer | null;
  aCount: number;
  aaaa: Buffer | null;
  aaaaCount: number;
}

type Entry = AnswerEntry;

/** The answer of `entry` to a question of type `qtype` (NODATA when it has none). */
export function answerFromEntry(
  entry: AnswerEntry,
  qtype: number,
): LocalAnswer {
  switch (qtype) {
    case DNS_TYPE.PTR:
      return entry.ptr ? { records: entry.ptr, count: 1 } : NODATA;
    case DNS_TYPE.A:
      return entry.a ? { records: entry.a, count: entry.aCount } : NODATA;
    case DNS_TYPE.AAAA:
      return entry.aaaa
        ? { records: entry.aaaa, count: entry.aaaaCount }
        : NODATA;
    case DNS_TYPE.ANY: {
      const parts = [entry.ptr, entry.a, entry.aaaa].filter(
        (b): b is Buffer => !!b,
      );
      return parts.length
        ? {
            records: Buffer.concat(parts),
            count: (entry.ptr ? 1 : 0) + entry.aCount + entry.aaaaCount,
          }
        : NODATA;
    }
    default:
      return NODATA;
  }
}

const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9])?)(\.[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9])?)*$/;

/** Checks host aliases from configuration; returns the problems, empty when valid. */
export function checkHostAliases(aliases: HostAlias[]): string[] {
  const problems: string[] = [];
  if (aliases.length > HOST_ALIAS_LIMITS.aliases) {
    problems.push(`at most ${HOST_ALIAS_LIMITS.aliases} host aliases`);
  }
  for (const alias of aliases.slice(0, HOST_ALIAS_LIMITS.aliases)) {
    if (!canonicalIp(alias.ip))
      problems.push(`host alias IP "${alias.ip}" is not an IP address`);
    if (
      !alias.hostnames.length ||
      alias.hostnames.length > HOST_ALIAS_LIMITS.hostnamesPerAlias
    ) {
      problems.push(
        `host alias ${alias.ip}: 1 to ${HOST_ALIAS_LIMITS.hostnamesPerAlias} hostnames`,
      );
    }
    for (const h of alias.hostnames) {
      if (!HOSTNAME.test(h.toLowerCase().replace(/\.$/, ''))) {
        problems.push(`host alias ${alias.ip}: "${h}" is not a host name`);
      }
    }
  }
  return problems;
}

/**
 * What the agent answers from memory, in wire form: PTR for pod and Service IPs (from the
 * PodDirectory, remembered until it changes) and A/AAAA/PTR for host aliases (built once).
 * Anything it returns undefined for is forwarded upstream.
 */
export class AnswerTable {
  private readonly aliases = new Map<string, Entry>();
  private readonly aliasReverse = new Map<string, string>();
  private readonly memo = new Map<string, Entry | null>();
  private readonly unsubscribe: () => void;
  private readonly invalidations = new Set<() => void>();

  constructor(
    private readonly directory: PodDirectory,
    hostAliases: HostAlias[],
    private readonly options: AnswerTableOptions,
  ) {
    const problems = checkHostAliases(hostAliases);
    if (problems.length)
      throw new Error(`invalid host aliases: ${problems.join('; ')}`);
    const byName = new Map<string, { v4: Buffer[]; v6: Buffer[] }>();
    for (const alias of hostAliases) {
      const ip = canonicalIp(alias.ip)!;
      const bytes = addressBytes(ip)!;
      for (const raw of alias.hostnames) {
        const name = raw.toLowerCase().replace(/\.$/, '');
        const slot = byName.get(name) ?? { v4: [], v6: [] };
        const list = bytes.length === 4 ? slot.v4 : slot.v6;
        if (
          list.length < HOST_ALIAS_LIMITS.addressesPerName &&
          !list.some(b => b.equals(bytes))
        ) {
          list.push(bytes);
        }
        byName.set(name, slot);
        // Like /etc/hosts: the first name given for an IP is its reverse name.
        if (!this.aliasReverse.has(ip)) this.aliasReverse.set(ip, name);
      }
    }
    for (const [name, { v4, v6 }] of byName) {
      const rr = (type: number) => (b: Buffer) =>
        encodeAnswerRecord(type, options.aliasTtl, b);
      this.aliases.set(name, {
        ptr: null,
        a: v4.length ? Buffer.concat(v4.map(rr(DNS_TYPE.A))) : null,
        aCount: v4.length,
        aaaa: v6.length ? Buffer.concat(v6.map(rr(DNS_TYPE.AAAA))) : null,
        aaaaCount: v6.length,
      });
    }
    // The directory coalesces its own events, so clearing on each is cheap; entries are
    // rebuilt on the next query, which keeps answers current within that query.
    this.unsubscribe = directory.onChange(() => {
      this.memo.clear();
      for (const l of this.invalidations) l();
    });
  }

  /** Calls `listener` in the same tick as every drop of built answers (directory changes). */
  onInvalidate(listener: () => void): () => void {
    this.invalidations.add(listener);
    return () => this.invalidations.delete(listener);
  }

  /**
   * `remember` false: a name some other memo holds from now on (a UDP fast path or
   * worker that relayed it and is taught it), built without keeping it here too.
   */
  lookup(
    name: string,
    qtype: number,
    remember = true,
  ): LocalAnswer | undefined {
    const entry = this.entryFor(name, remember);
    return entry ? answerFromEntry(entry, qtype) : undefined;
  }

  /** What the agent answers for `name`, or null when it is not local (forwarded). */
  entryFor(name: string, remember = true): AnswerEntry | null {
    let entry: Entry | null | undefined = this.aliases.get(name);
    if (!entry) {
      entry = this.memo.get(name);
      if (entry === undefined) {
        entry = this.buildReverse(name);
        if (!remember) return entry;
        if (this.memo.size >= this.options.maxMemo) this.memo.clear();
        this.memo.set(name, entry);
      }
    }
    return entry;
  }

  close(): void {
    this.unsubscribe();
    this.invalidations.clear();
    this.memo.clear();
  }

  private buildReverse(name: string): Entry | null {
    const ip = ipFromReverseName(name);
    if (!ip) return null;
    let target: string | undefined;
    const pod = this.directory.podByIp(ip);
    if (pod) {
      target = podPtrName(pod, this.options.zone);
    } else {
      const service = this.directory.serviceByIp(ip);
      if (service) target = servicePtrName(service, this.options.zone);
      else target = this.aliasReverse.get(ip);
    }
    if (!target) return null;
    return {
      ptr: encodeAnswerRecord(
        DNS_TYPE.PTR,
        this.options.ptrTtl,
        encodeName(target),
      ),
      a: null,
      aCount: 0,
      aaaa: null,
      aaaaCount: 0,
    };
  }
}
