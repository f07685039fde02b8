import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
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
  it('reads the current context of a YAML kubeconfig with token and CA data', () => {
    const file = write(
      'a.yaml',
      `
apiVersion: v1
kind: Config
current-context: agent
clusters:
- name: plane
  cluster: {server: "https://127.0.0.1:6443/", certificate-authority-data: ${Buffer.from(
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
    expect(t.ca?.toString()).toBe('CA!');
    expect(t.token()).toBe('abc');
    expect(t.insecureSkipTlsVerify).toBe(false);
  });

  it('reads JSON, relative cert files and token files (re-read)', () => {
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
    expect([
      t.cert?.toString(),
      t.key?.toString(),
      t.token(),
      t.insecureSkipTlsVerify,
    ]).toEqual(['CERT', 'KEY', 'first', true]);
  });

  it('refuses exec plugins and missing contexts in plain words', () => {
    const file = write(
      'c.yaml',
      `current-context: x
clusters: [{name: c, cluster: {server: "https://k"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
`,
    );
    expect(() => kubeconfigTarget(file)).toThrow(
      /exec or auth-provider plugin/,
    );
    expect(() => kubeconfigTarget(file, 'nope')).toThrow(
      /no context named "nope"/,
    );
    expect(() => loadKubeTarget('/does/not/exist:/nor/this')).toThrow(
      /kubeconfig not found/,
    );
  });

  it('uses the pod ServiceAccount in a cluster', () => {
    const sa = mkdtempSync(join(tmpdir(), 'sa-'));
    writeFileSync(join(sa, 'token'), 'satoken');
    writeFileSync(join(sa, 'ca.crt'), 'CA');
    const t = inClusterTarget(
      { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      sa,
    );
    expect([t.server, t.token(), t.ca?.toString()]).toEqual([
      'https://10.96.0.1:443',
      'satoken',
      'CA',
    ]);
    expect(() => inClusterTarget({}, sa)).toThrow(/not running in a pod/);
  });
});
