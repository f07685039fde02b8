import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../paths';

const exec = promisify(execFile);

/** Image name of the test image (the CRI normalises short names, as for every Spider image). */
export const BUSYBOX_IMAGE = 'spider/e2e-busybox:1';

const BUSYBOX = '/bin/busybox';
const APPLETS = [
  'sh',
  'httpd',
  'nslookup',
  'sleep',
  'echo',
  'cat',
  'hostname',
  'mkdir',
  'nc',
];

/**
 * Builds a small image here, with no registry and no base image: Debian's static
 * busybox (package busybox-static) on an empty base, through the images tool
 * (`images/build.sh --ociimage`). It serves HTTP (`httpd`) and is a client (`nc`, `nslookup`).
 * Returns the OCI archive's path.
 */
export async function buildBusyboxImage(): Promise<string> {
  if (!existsSync(BUSYBOX) || !(await isStatic(BUSYBOX))) {
    throw new Error(
      `${BUSYBOX} is missing or not static: install Debian's busybox-static (apt-get install busybox-static)`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'spider-e2e-image-'));
  const spec = join(dir, 'image.json');
  const out = join(dir, 'busybox.tar');
  writeFileSync(
    spec,
    JSON.stringify({
      name: BUSYBOX_IMAGE,
      layers: [
        {
          entries: [
            { src: BUSYBOX, dest: '/bin/busybox', mode: '0755' },
            ...APPLETS.map(a => ({ symlink: 'busybox', dest: `/bin/${a}` })),
            { dir: true, dest: '/tmp', mode: '1777' },
          ],
        },
      ],
      config: { entrypoint: ['/bin/sh'], env: ['PATH=/bin'] },
    }),
  );
  await exec(
    join(REPO_ROOT, 'images', 'build.sh'),
    ['--ociimage', 'build', '-spec', spec, '-out', out],
    { timeout: 10 * 60_000 },
  );
  return out;
}

async function isStatic(file: string): Promise<boolean> {
  try {
    await exec('ldd', [file]);
    return false; // ldd lists libraries: dynamically linked
  } catch (e) {
    return /not a dynamic executable|statically linked/.test(
      String((e as { stderr?: string; stdout?: string }).stderr ?? '') +
        String((e as { stdout?: string }).stdout ?? ''),
    );
  }
}
