/**
 * Serves the benchmark's pods over DNS in its own process (so the server does not share
 * an event loop with the driver): `--impl agent` is the agent's server (createDnsServer),
 * `--impl dns2` is a plain dns2 server answering PTR from a Map (the measured floor).
 */
import { createServer, Packet } from 'dns2';
import { createDnsServer } from '../../src/dns';
import { podPtrName, DEFAULT_ZONE } from '../../src/dns/ptrNames';
import { reverseNameOf } from '../../src/dns/reverse';
import { MemoryPodDirectory } from '../../src/testUtils/MemoryPodDirectory';
import { benchPods } from './fixture';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

async function main() {
  const impl = arg('impl', 'agent');
  const port = Number(arg('port', '15300'));
  const pods = benchPods(Number(arg('pods', '10000')));
  if (impl === 'agent') {
    const dir = new MemoryPodDirectory();
    for (const p of pods) dir.setPod(p);
    const dns = createDnsServer({
      directory: dir,
      port,
      host: '127.0.0.1',
      upstreams: ['127.0.0.1:9'],
      udpWorkers: process.argv.includes('--workers')
        ? Number(arg('workers', '0'))
        : undefined,
      // --fast-path BIN [--fast-sockets N]: UDP through the Go fast path; else none.
      udpFastPath: process.argv.includes('--fast-path')
        ? {
            binary: arg('fast-path', ''),
            sockets: Number(arg('fast-sockets', '1')),
          }
        : null,
      logger: {
        warn: (msg, fields) =>
          process.stderr.write(`warn: ${msg} ${JSON.stringify(fields)}\n`),
      },
    });
    await dns.start();
    process.on('SIGTERM', () => {
      process.stderr.write(`${JSON.stringify(dns.stats())}\n`);
      void dns.stop().then(() => process.exit(0));
    });
  } else {
    const names = new Map(
      pods.map(p => [reverseNameOf(p.ip)!, podPtrName(p, DEFAULT_ZONE)]),
    );
    const server = createServer({
      udp: true,
      handle: (request: any, send: any) => {
        const response = Packet.createResponseFromRequest(request);
        const [q] = request.questions;
        const target = q && names.get(String(q.name).toLowerCase());
        if (target)
          response.answers.push({
            name: q.name,
            type: Packet.TYPE.PTR,
            class: Packet.CLASS.IN,
            ttl: 5,
            domain: target,
          } as any);
        send(response);
      },
    } as any);
    await server.listen({ udp: { port, address: '127.0.0.1' } } as any);
    process.on('SIGTERM', () => process.exit(0));
  }
  process.stdout.write('ready\n');
}

main().catch(e => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
