import { isIP } from 'node:net';

function bareHost(h: string): string {
  return h.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * Which proxy, if any, carries requests to the apiserver: the cluster's `proxy-url`
 * when set (always used, as kubectl does), else HTTPS_PROXY / HTTP_PROXY with NO_PROXY,
 * read the way Go's net/http reads them (kubectl's behaviour): lower-case names too,
 * loopback and localhost never proxied, NO_PROXY entries are `*`, hosts (which also match
 * their subdomains; a leading dot is optional), IPs, CIDRs, each optionally with `:port`.
 */
export function proxyFor(
  server: URL,
  proxyUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): URL | undefined {
  if (proxyUrl) return checkedProxy(proxyUrl, 'proxy-url');
  const https = server.protocol === 'https:';
  const name = https ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  const value = env[name] || env[name.toLowerCase()];
  if (!value) return undefined;
  const host = bareHost(server.hostname);
  const port = server.port || (https ? '443' : '80');
  if (host === 'localhost' || isLoopback(host)) return undefined;
  if (noProxyMatches(env.NO_PROXY ?? env.no_proxy ?? '', host, port))
    return undefined;
  return checkedProxy(value.includes('://') ? value : `http://${value}`, name);
}

function checkedProxy(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(
      `${what} "${value}": only http and https proxies (HTTP CONNECT) are supported, not ${url.protocol.replace(
        ':',
        '',
      )}`,
    );
  return url;
}

function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

export function noProxyMatches(
  noProxy: string,
  host: string,
  port: string,
): boolean {
  for (let entry of noProxy.split(',').map(e => e.trim().toLowerCase())) {
    if (!entry) continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (isIP(host) && inCidr(host, entry)) return true;
      continue;
    }
    let entryPort: string | undefined;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) {
      entry = m[1];
      entryPort = m[2];
    }
    entry = bareHost(entry);
    if (entryPort && entryPort !== port) continue;
    if (isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    const domain = entry.replace(/^\*?\./, '');
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const a = ipBytes(ip);
  const b = ipBytes(base);
  const bits = Number(bitsText);
  if (!a || !b || a.length !== b.length || !Number.isInteger(bits))
    return false;
  for (let i = 0; i < a.length * 8 && i < bits; i++) {
    const mask = 0x80 >> i % 8;
    if ((a[i >> 3] & mask) !== (b[i >> 3] & mask)) return false;
  }
  return true;
}

function ipBytes(ip: string): number[] | undefined {
  if (isIP(ip) === 4) return ip.split('.').map(Number);
  if (isIP(ip) !== 6) return undefined;
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap(g => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}
