import { isAbsolute, join } from 'node:path';

/**
 * The client.authentication.k8s.io ExecCredential protocol, the pure part: reading the
 * kubeconfig's `exec` stanza, the request handed to the plugin in KUBERNETES_EXEC_INFO,
 * the plugin's answer, and whether a cached answer may still be used. Running the
 * program is ExecPlugin's job.
 */

export const EXEC_API_VERSIONS = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
] as const;
export type ExecApiVersion = (typeof EXEC_API_VERSIONS)[number];

export type InteractiveMode = 'Never' | 'IfAvailable' | 'Always';

export interface ExecConfig {
  apiVersion: ExecApiVersion;
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  interactiveMode: InteractiveMode;
  provideClusterInfo: boolean;
  installHint?: string;
}

/** What `provideClusterInfo` hands the plugin (spec.cluster). */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'certificate-authority-data'?: string;
  'proxy-url'?: string;
  config?: unknown;
}

export interface ExecCredential {
  token?: string;
  /** PEM client certificate and key (both or neither). */
  cert?: Buffer;
  key?: Buffer;
  /** Epoch ms after which the credential must not be used; undefined: until a 401. */
  expiresAt?: number;
}

/**
 * Validates a kubeconfig user's `exec` stanza. A command with a path separator is
 * resolved against the kubeconfig's directory, as kubectl does; a bare name is looked up
 * on PATH.
 */
export function readExecConfig(
  raw: any,
  where: string,
  dir: string,
): ExecConfig {
  const fail = (what: string): never => {
    throw new Error(`${where}: exec: ${what}`);
  };
  if (!raw || typeof raw !== 'object') fail('must be a mapping');
  const apiVersion = raw.apiVersion;
  if (!EXEC_API_VERSIONS.includes(apiVersion))
    fail(
      `apiVersion must be one of ${EXEC_API_VERSIONS.join(', ')}, got "${
        apiVersion ?? ''
      }"`,
    );
  if (typeof raw.command !== 'string' || !raw.command)
    fail('command is required');
  const args = raw.args ?? [];
  if (!Array.isArray(args) || args.some((a: unknown) => typeof a !== 'string'))
    fail('args must be a list of strings');
  const env = raw.env ?? [];
  if (
    !Array.isArray(env) ||
    env.some(
      (e: any) => typeof e?.name !== 'string' || typeof e?.value !== 'string',
    )
  )
    fail('env must be a list of {name, value} strings');
  let interactiveMode = raw.interactiveMode;
  if (interactiveMode === undefined || interactiveMode === '') {
    // client-go: v1 must say it; v1beta1 defaults to IfAvailable.
    if (apiVersion === 'client.authentication.k8s.io/v1')
      fail('interactiveMode is required for client.authentication.k8s.io/v1');
    interactiveMode = 'IfAvailable';
  }
  if (!['Never', 'IfAvailable', 'Always'].includes(interactiveMode))
    fail(
      `interactiveMode must be Never, IfAvailable or Always, got "${interactiveMode}"`,
    );
  if (interactiveMode === 'Always')
    fail(
      'interactiveMode is Always, but the agent has no terminal; use a plugin that runs with interactiveMode Never or IfAvailable',
    );
  const command: string = raw.command;
  return {
    apiVersion,
    command:
      command.includes('/') && !isAbsolute(command)
        ? join(dir, command)
        : command,
    args,
    env,
    interactiveMode,
    provideClusterInfo: Boolean(raw.provideClusterInfo),
    installHint:
      typeof raw.installHint === 'string' ? raw.installHint : undefined,
  };
}

/** The KUBERNETES_EXEC_INFO the plugin reads: never interactive (the agent has no TTY). */
export function execInfo(
  config: ExecConfig,
  cluster?: ExecClusterInfo,
): string {
  const spec: Record<string, unknown> = { interactive: false };
  if (config.provideClusterInfo && cluster) spec.cluster = cluster;
  return JSON.stringify({
    apiVersion: config.apiVersion,
    kind: 'ExecCredential',
    spec,
  });
}

/** Parses and checks what the plugin printed; errors say what the plugin got wrong. */
export function parseExecCredential(
  stdout: string,
  config: ExecConfig,
): ExecCredential {
  const where = `exec plugin ${config.command}`;
  let doc: any;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new Error(
      `${where}: printed no JSON ExecCredential (${JSON.stringify(
        stdout.slice(0, 80),
      )})`,
    );
  }
  if (doc?.kind !== 'ExecCredential')
    throw new Error(
      `${where}: printed kind "${doc?.kind ?? ''}", not ExecCredential`,
    );
  if (doc.apiVersion !== config.apiVersion)
    throw new Error(
      `${where}: is configured for ${config.apiVersion} but printed ${
        doc.apiVersion ?? 'no apiVersion'
      }`,
    );
  const status = doc.status;
  if (!status || typeof status !== 'object')
    throw new Error(`${where}: printed an ExecCredential without status`);
  const { token, clientCertificateData: cert, clientKeyData: key } = status;
  if (token !== undefined && (typeof token !== 'string' || !token))
    throw new Error(`${where}: status.token must be a non-empty string`);
  if (Boolean(cert) !== Boolean(key))
    throw new Error(
      `${where}: status.clientCertificateData and status.clientKeyData come together`,
    );
  if (!token && !cert)
    throw new Error(
      `${where}: status has neither a token nor a client certificate`,
    );
  let expiresAt: number | undefined;
  if (status.expirationTimestamp) {
    expiresAt = Date.parse(status.expirationTimestamp);
    if (!Number.isFinite(expiresAt))
      throw new Error(
        `${where}: status.expirationTimestamp "${status.expirationTimestamp}" is not an RFC 3339 time`,
      );
  }
  return {
    token: token || undefined,
    cert: cert ? Buffer.from(String(cert)) : undefined,
    key: key ? Buffer.from(String(key)) : undefined,
    expiresAt,
  };
}

/** A cached credential is used until its expirationTimestamp passes (as client-go does). */
export function credentialFresh(
  cred: ExecCredential | undefined,
  now: number,
): cred is ExecCredential {
  if (!cred) return false;
  return cred.expiresAt === undefined || now < cred.expiresAt;
}
