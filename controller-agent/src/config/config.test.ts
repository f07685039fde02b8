import { imageAllowed } from '@spider/backstage-plugin-spider-common';
import {
  ConfigError,
  flagFor,
  insecureControlsUrlWarning,
  loadConfig,
  namespaceInScope,
} from './config';

const base = {
  SPIDER_CONTROLS_URL: 'https://portal.example.com/api/spider/',
  SPIDER_TOKEN: 'tok123',
};

function problems(env: Record<string, string>, argv: string[] = []): string[] {
  try {
    loadConfig(env, argv, () => {
      throw new Error('ENOENT: no such file');
    });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies defaults and trims the URL', () => {
    const c = loadConfig(base, []);
    expect(c.controlsUrl).toBe('https://portal.example.com/api/spider');
    expect(c.token()).toBe('tok123');
    expect(c.scope).toEqual({ include: '*', exclude: [] });
    expect(c.resyncSeconds).toBe(60);
    expect(c.logLevel).toBe('info');
    expect(c.httpPort).toBe(8080);
  });

  it('lets flags win over env, in both --x v and --x=v forms', () => {
    const c = loadConfig({ ...base, SPIDER_LOG_LEVEL: 'warn' }, [
      '--log-level',
      'debug',
      '--namespaces=a,b',
      '--namespaces-exclude',
      'kube-system',
      '--resync-seconds=30',
    ]);
    expect(c.logLevel).toBe('debug');
    expect(c.scope).toEqual({ include: ['a', 'b'], exclude: ['kube-system'] });
    expect(c.resyncSeconds).toBe(30);
  });

  it('names the env var and flag of each missing value', () => {
    const p = problems({});
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/SPIDER_CONTROLS_URL \(--controls-url\): missing/);
    expect(p[1]).toMatch(
      /SPIDER_TOKEN \(--token\) or SPIDER_TOKEN_FILE \(--token-file\): missing/,
    );
  });

  it.each([
    [{ SPIDER_CONTROLS_URL: 'ftp://x' }, /must be an http\(s\) or ws\(s\) URL/],
    [{ SPIDER_CONTROLS_URL: 'not a url' }, /not a URL/],
    [
      { SPIDER_RESYNC_SECONDS: 'soon' },
      /SPIDER_RESYNC_SECONDS .*whole number from 5 to 86400, got "soon"/,
    ],
    [{ SPIDER_HTTP_PORT: '70000' }, /SPIDER_HTTP_PORT .*0 to 65535/],
    [
      { SPIDER_LOG_LEVEL: 'loud' },
      /SPIDER_LOG_LEVEL .*one of debug, info, warn, error/,
    ],
    [{ SPIDER_NAMESPACES: 'good,Bad_NS' }, /SPIDER_NAMESPACES .*"Bad_NS"/],
    [
      { SPIDER_WHISPERER_IMAGE: 'no spaces allowed' },
      /SPIDER_WHISPERER_IMAGE .*not an image/,
    ],
    [{ SPIDER_HOST_ALIASES: '{"ip":1}' }, /SPIDER_HOST_ALIASES .*must be JSON/],
    [{ SPIDER_POD_IP: '999.1.1.1' }, /SPIDER_POD_IP .*not an IP/],
    [
      { SPIDER_DNS_UPSTREAMS: '10.0.0.10,dns.example' },
      /SPIDER_DNS_UPSTREAMS .*"dns.example"/,
    ],
    [{ SPIDER_TOKEN_FILE: '/nope' }, /set one of them, not both/],
    [{ SPIDER_HTTP_PORT: '9000', SPIDER_ENDPOINT_PORT: '9000' }, /must differ/],
  ])('rejects %j', (extra, message) => {
    const p = problems({ ...base, ...extra });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(message);
  });

  it('reports an unreadable token file and unknown flags', () => {
    const p = problems(
      {
        SPIDER_CONTROLS_URL: base.SPIDER_CONTROLS_URL,
        SPIDER_TOKEN_FILE: '/nope',
      },
      ['--frobnicate'],
    );
    expect(p).toEqual([
      'unknown argument "--frobnicate" (see --help)',
      expect.stringMatching(
        /SPIDER_TOKEN_FILE \(--token-file\): cannot read "\/nope"/,
      ),
    ]);
  });

  it('re-reads the token file on each call (rotation without restart)', () => {
    let content = 'first\n';
    const c = loadConfig(
      {
        SPIDER_CONTROLS_URL: base.SPIDER_CONTROLS_URL,
        SPIDER_TOKEN_FILE: '/t',
      },
      [],
      () => content,
    );
    expect(c.token()).toBe('first');
    content = 'second';
    expect(c.token()).toBe('second');
  });

  it('bounds the traffic buffer and reads the process-access switch, naming the variable', () => {
    const c = loadConfig(base, []);
    expect(c.trafficBufferBytes).toBe(64 * 1024 * 1024);
    expect(c.allowProcessAccess).toBe(false);
    expect(
      loadConfig(
        {
          ...base,
          SPIDER_TRAFFIC_BUFFER_BYTES: '8388608',
          SPIDER_ALLOW_PROCESS_ACCESS: 'TRUE',
        },
        [],
      ),
    ).toMatchObject({ trafficBufferBytes: 8388608, allowProcessAccess: true });
    expect(problems({ ...base, SPIDER_TRAFFIC_BUFFER_BYTES: '1000' })).toEqual([
      expect.stringMatching(
        /^SPIDER_TRAFFIC_BUFFER_BYTES \(--traffic-buffer-bytes\): must be a whole number from 4194304/,
      ),
    ]);
    expect(problems({ ...base, SPIDER_ALLOW_PROCESS_ACCESS: 'yes' })).toEqual([
      'SPIDER_ALLOW_PROCESS_ACCESS (--allow-process-access): must be "true" or "false", got "yes"',
    ]);
  });

  it('reads the DNS UDP worker count (default 0), bounded 0..8', () => {
    expect(loadConfig(base, []).dnsUdpWorkers).toBe(0);
    expect(loadConfig(base, ['--dns-udp-workers', '2']).dnsUdpWorkers).toBe(2);
    expect(problems({ ...base, SPIDER_DNS_UDP_WORKERS: '9' })).toEqual([
      'SPIDER_DNS_UDP_WORKERS (--dns-udp-workers): must be a whole number from 0 to 8, got "9"',
    ]);
  });

  it('allows the project whisperer image by default, the configured list otherwise, the default image always', () => {
    const byDefault = loadConfig(base, []).allowedImages;
    expect(imageAllowed('spider/whisperer:0.2.0', byDefault)).toBe(true);
    expect(imageAllowed('attacker.example/spider/whisperer:1', byDefault)).toBe(
      false,
    );
    const listed = loadConfig(
      {
        ...base,
        SPIDER_ALLOWED_IMAGES: 'reg.example/team/*, reg.example/x:1',
        SPIDER_WHISPERER_IMAGE: 'reg.example/own/whisperer',
      },
      [],
    ).allowedImages;
    expect(imageAllowed('reg.example/team/a:3', listed)).toBe(true);
    expect(imageAllowed('reg.example/x:2', listed)).toBe(false);
    expect(imageAllowed('spider/whisperer:0.1.0', listed)).toBe(false);
    expect(imageAllowed('reg.example/own/whisperer', listed)).toBe(true);
    expect(imageAllowed('reg.example/own/whisperer:other', listed)).toBe(false);
    expect(
      problems({ ...base, SPIDER_ALLOWED_IMAGES: 'ok.example/x:1,*' }),
    ).toEqual([
      expect.stringMatching(
        /^SPIDER_ALLOWED_IMAGES \(--allowed-images\): "\*": a lone \* would allow every image/,
      ),
    ]);
  });

  it('warns about a plain http/ws Controls URL beyond this machine', () => {
    expect(
      insecureControlsUrlWarning('http://portal.example.com/api/spider'),
    ).toBe(
      'SPIDER_CONTROLS_URL (--controls-url) is http://portal.example.com: the agent token and the desired attachments travel unencrypted; use https:// (or wss://) unless this network is private to the cluster and the portal',
    );
    expect(insecureControlsUrlWarning('ws://10.0.0.5:7007/api/spider')).toMatch(
      /is ws:\/\/10\.0\.0\.5:7007: /,
    );
    for (const ok of [
      'https://portal.example.com/api/spider',
      'wss://portal.example.com/api/spider',
      'http://127.0.0.1:7007/api/spider',
      'http://localhost:7007/api/spider',
      'http://[::1]:7007/api/spider',
    ]) {
      expect(insecureControlsUrlWarning(ok)).toBeNull();
    }
  });

  it('parses host aliases', () => {
    const c = loadConfig(
      {
        ...base,
        SPIDER_HOST_ALIASES: '[{"ip":"10.0.0.5","hostnames":["db.internal"]}]',
      },
      [],
    );
    expect(c.hostAliases).toEqual([
      { ip: '10.0.0.5', hostnames: ['db.internal'] },
    ]);
  });
});

describe('flags and scope', () => {
  it('derives flag names from the env names', () => {
    expect(flagFor('namespacesExclude')).toBe('--namespaces-exclude');
    expect(flagFor('controlsUrl')).toBe('--controls-url');
  });
  it.each([
    [{ include: '*' as const, exclude: [] }, 'a', true],
    [{ include: '*' as const, exclude: ['a'] }, 'a', false],
    [{ include: ['a'], exclude: [] }, 'b', false],
    [{ include: ['a', 'b'], exclude: ['b'] }, 'b', false],
    [{ include: ['a', 'b'], exclude: [] }, 'b', true],
  ])('namespaceInScope(%j, %s) = %s', (scope, ns, expected) => {
    expect(namespaceInScope(scope, ns)).toBe(expected);
  });
});

describe('bind address', () => {
  it('binds a host process to loopback, a pod (or a process told its address) to all interfaces', () => {
    expect(loadConfig(base, []).bindAddress).toBe('127.0.0.1');
    expect(
      loadConfig({ ...base, KUBERNETES_SERVICE_HOST: '10.96.0.1' }, [])
        .bindAddress,
    ).toBeNull();
    expect(
      loadConfig({ ...base, SPIDER_POD_IP: '10.0.0.9' }, []).bindAddress,
    ).toBeNull();
    expect(
      loadConfig({ ...base, SPIDER_BIND_ADDRESS: '0.0.0.0' }, []).bindAddress,
    ).toBe('0.0.0.0');
    expect(
      loadConfig({ ...base, KUBERNETES_SERVICE_HOST: '10.96.0.1' }, [
        '--bind-address',
        '127.0.0.1',
      ]).bindAddress,
    ).toBe('127.0.0.1');
  });

  it('refuses what is not an IP, naming the variable and the flag', () => {
    expect(problems({ ...base, SPIDER_BIND_ADDRESS: 'localhost' })).toEqual([
      expect.stringMatching(
        /^SPIDER_BIND_ADDRESS \(--bind-address\): not an IP address: "localhost"/,
      ),
    ]);
  });
});
