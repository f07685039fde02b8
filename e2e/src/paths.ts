import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * This package's directory, found through its package.json (as `resolvePackagePath` does)
 * rather than `__dirname`, which points elsewhere once code is bundled or built.
 */
export const E2E_DIR = dirname(
  realpathSync(require.resolve('@spider/e2e/package.json')),
);

/** The repository root (the e2e package sits at its top level). */
export const REPO_ROOT = dirname(E2E_DIR);

/** Directory holding build.sh, plane and the kwok stages. */
export const CLUSTER_DIR = join(E2E_DIR, 'cluster');
