import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fileMaterial,
  inClusterTarget,
  kubeconfigTarget,
  loadKubeTarget,
} from './kubeTarget';

const dir = mkdtempSync(join(tmpdir(), 'kt-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('kubeTarget', () => {
  it('reads the current context of a YAML kubeconfig with token and CA data', async () => {
    const file = write(
      'a.yaml',
      `
apiVersion: v1
kind: Config
current-context: agent
clusters:
- name: plane
  cluster: {server: "https://127.0.0.1:6443/", tls-server-name: kubernetes, certificate-authority-data: ${Buffer.from(
    'CA!',
  ).toString('base64')}}
users:
- name: agent
  user: {token: abc}
contexts:
- name: agent
  context: {cluster: plane, user: agent}
`,
    );
    const t = kubeconfigTarget(file);
    expect(t.server).toBe('https://127.0.0.1:6443');
    expect(t.ca()?.toString()).toBe('CA!');
    expect((await t.credentials()).token).toBe('abc');
    expect(t.insecureSkipTlsVerify).toBe(false);
    expect(t.tlsServerName).toBe('kubernetes');
    expect(t.proxy).toBeUndefined();
  });

  it('reads JSON, relative cert files and token files (re-read)', async () => {
    write('client.crt', 'CERT');
    write('client.key', 'KEY');
    write('tok', 'first\n');
    const file = write(
      'b.json',
      JSON.stringify({
        'current-context': 'x',
        clusters: [
          {
            name: 'c',
            cluster: { server: 'https://k', 'insecure-skip-tls-verify': true },
          },
        ],
        users: [
          {
            name: 'u',
            user: {
              'client-certificate': 'client.crt',
              'client-key': 'client.key',
              tokenFile: 'tok',
            },
          },
        ],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      }),
    );
    const t = kubeconfigTarget(file);
    const c = await t.credentials();
    expect([
      c.cert?.toString(),
      c.key?.toString(),
      c.token,
      t.insecureSkipTlsVerify,
    ]).toEqual(['CERT', 'KEY', 'first', true]);
  });

  it('re-reads a certificate file when it changes, and hands back the same buffer until then', () => {
    const p = write('rotating.crt', 'one');
    const read = fileMaterial(p, 0);
    const first = read();
    expect(read()).toBe(first);
    writeFileSync(p, 'two, longer');
    expect(read()?.toString()).toBe('two, longer');
  });

  it('takes proxy-url, and HTTPS_PROXY unless NO_PROXY says otherwise', () => {
    const file = write(
      'p.yaml',
      `current-context: x
clusters: [{name: c, cluster: {server: "https://api.example.com"}}, {name: d, cluster: {server: "https://api.example.com", proxy-url: "http://proxy.local:3128"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}, {name: y, context: {cluster: d, user: u}}]
`,
    );
    expect(kubeconfigTarget(file, 'y', {}).proxy?.href).toBe(
      'http://proxy.local:3128/',
    );
    expect(
      kubeconfigTarget(file, 'x', { HTTPS_PROXY: 'envproxy:8080' }).proxy?.href,
    ).toBe('http://envproxy:8080/');
    expect(
      kubeconfigTarget(file, 'x', {
        HTTPS_PROXY: 'envproxy:8080',
        NO_PROXY: '.example.com',
      }).proxy,
    ).toBeUndefined();
  });

  it('refuses auth-provider plugins, bad exec stanzas and missing contexts in plain words', () => {
    const file = write(
      'c.yaml',
      `current-context: x
clusters: [{name: c, cluster: {server: "https://k"}}]
users: [{name: u, user: {auth-provider: {name: gcp}}}, {name: e, user: {exec: {command: aws}}}]
contexts: [{name: x, context: {cluster: c, user: u}}, {name: y, context: {cluster: c, user: e}}]
`,
    );
    expect(() => kubeconfigTarget(file)).toThrow(/auth-provider plugin/);
    expect(() => kubeconfigTarget(file, 'y')).toThrow(
      /exec: apiVersion must be one of/,
    );
    expect(() => kubeconfigTarget(file, 'nope')).toThrow(
      /no context named "nope"/,
    );
    expect(() => loadKubeTarget('/does/not/exist:/nor/this')).toThrow(
      /kubeconfig not found/,
    );
  });

  it('merges a KUBECONFIG list: cluster from one file, user from another, relative paths per file', async () => {
    const a = mkdtempSync(join(tmpdir(), 'kt-a-'));
    const b = mkdtempSync(join(tmpdir(), 'kt-b-'));
    writeFileSync(join(b, 'tok'), 'from-b');
    writeFileSync(
      join(a, 'config'),
      `current-context: mine
clusters: [{name: plane, cluster: {server: "https://a"}}]
contexts: [{name: mine, context: {cluster: plane, user: me}}]
`,
    );
    writeFileSync(
      join(b, 'config'),
      `current-context: theirs
clusters: [{name: plane, cluster: {server: "https://b-loses"}}]
users: [{name: me, user: {tokenFile: tok}}]
contexts: [{name: theirs, context: {cluster: plane, user: me}}]
`,
    );
    const t = loadKubeTarget(
      `${join(a, 'config')}:/missing/file:${join(b, 'config')}`,
      {},
    );
    expect(t.server).toBe('https://a');
    expect((await t.credentials()).token).toBe('from-b');
    expect(t.source).toContain('context mine');
  });

  it('uses the pod ServiceAccount in a cluster', async () => {
    const sa = mkdtempSync(join(tmpdir(), 'sa-'));
    writeFileSync(join(sa, 'token'), 'satoken');
    writeFileSync(join(sa, 'ca.crt'), 'CA');
    const t = inClusterTarget(
      { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      sa,
    );
    expect([
      t.server,
      (await t.credentials()).token,
      t.ca()?.toString(),
    ]).toEqual(['https://10.96.0.1:443', 'satoken', 'CA']);
    expect(() => inClusterTarget({}, sa)).toThrow(/not running in a pod/);
  });
});
