import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * The Go UDP fast path binary for tests: dnsfast/build.sh builds it once per source
 * state (cached), or SPIDER_DNS_FASTPATH_BIN names a built one.
 */
export function fastPathBinaryForTests(): string {
  const given = process.env.SPIDER_DNS_FASTPATH_BIN;
  if (given && given !== 'off') return given;
  return execFileSync(
    // eslint-disable-next-line no-restricted-syntax -- the package's own dnsfast directory
    path.join(__dirname, '..', '..', 'dnsfast', 'build.sh'),
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  ).trim();
}
