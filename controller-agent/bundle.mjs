// Bundles the agent (src/main.ts with spider-common and its production dependencies)
// into one file for the image: the runtime stage then needs Node and nothing else.
// esbuild comes with tsx (a devDependency) in the build stage.
// eslint-disable-next-line @backstage/no-undeclared-imports -- build-stage script; esbuild is provided by tsx, declaring it would need a lockfile change
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: false,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: ['src/main.ts'],
  outfile: 'dist/agent.cjs',
});
// The DNS server's UDP worker threads load this file beside the bundle (UdpWorkerPool).
await build({
  ...common,
  entryPoints: ['src/dns/udpWorker.ts'],
  outfile: 'dist/dns-udp-worker.cjs',
});
