import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The node flags the agent's image runs it with (the Dockerfile's ENTRYPOINT, between
 * "node" and the script), so the benchmarks measure the process the image runs.
 */
export function imageNodeFlags(
  dockerfile = join(__dirname, '..', 'Dockerfile'),
): string[] {
  const line = readFileSync(dockerfile, 'utf8')
    .split('\n')
    .find(l => l.startsWith('ENTRYPOINT'));
  if (!line) throw new Error(`${dockerfile}: no ENTRYPOINT`);
  const argv: string[] = JSON.parse(line.slice('ENTRYPOINT'.length).trim());
  if (argv[0] !== 'node')
    throw new Error(`${dockerfile}: ENTRYPOINT is not node`);
  return argv.slice(1, -1);
}
