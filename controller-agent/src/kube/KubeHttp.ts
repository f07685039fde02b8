import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { Credentials, KubeTarget } from './kubeTarget';
import { TunnelAgent } from './TunnelAgent';

/** An error answer of the Kubernetes API (or a network error, status undefined). */
export class KubeApiError extends Error {
  constructor(
    readonly status: number | undefined,
    readonly body: unknown,
    message: string,
    /** Retry-After of the answer, in seconds (priority and fairness 429s carry one). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: any;
}

/**
 * Raw JSON access to the Kubernetes API with the kubeconfig's TLS, proxy and auth
 * (asked for per request, so rotated tokens, certificates and exec credentials are
 * picked up). Used for lists and
 * watches: parsing pages ourselves and keeping lean copies is what keeps memory low,
 * where the typed client would deserialize every object into model classes first.
 */
export class KubeHttp {
  private agent: https.Agent | undefined;
  private agentMaterial: Array<Buffer | undefined> = [];
  /** Agents of earlier TLS material: their open watches finish on them. */
  private readonly retired: https.Agent[] = [];

  constructor(readonly target: KubeTarget) {}

  close(): void {
    this.agent?.destroy();
    for (const a of this.retired) a.destroy();
    this.retired.length = 0;
  }

  /**
   * One keep-alive agent per TLS material (a TLS handshake per request would cost more
   * than the request on a busy agent); a new one when the CA or client certificate
   * changes (a rotated file, a new exec plugin answer).
   */
  private agentFor(ca?: Buffer, cert?: Buffer, key?: Buffer): https.Agent {
    const m = [ca, cert, key];
    if (this.agent && m.every((b, i) => b === this.agentMaterial[i]))
      return this.agent;
    if (this.agent) this.retired.push(this.agent);
    const options: https.AgentOptions = {
      ca,
      cert,
      key,
      rejectUnauthorized: !this.target.insecureSkipTlsVerify,
      keepAlive: true,
      // As many idle sockets as the Injector may have PATCHes in flight: fewer, and each
      // round of answers closed sockets the next round opened again (a TLS handshake each).
      maxFreeSockets: 256,
    };
    const agent = this.target.proxy
      ? new TunnelAgent(this.target.proxy, options)
      : new https.Agent(options);
    this.agent = agent;
    this.agentMaterial = m;
    return agent;
  }

  private requestOptions(
    method: string,
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    headers: Record<string, string>,
    creds: Credentials,
  ): { url: URL; options: https.RequestOptions } {
    const url = new URL(this.target.server + path);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const h: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': 'spider-controller-agent',
      ...headers,
    };
    if (creds.token) h.Authorization = `Bearer ${creds.token}`;
    const options: https.RequestOptions = { method, headers: h };
    if (creds.basicAuth && !creds.token) options.auth = creds.basicAuth;
    if (url.protocol === 'https:') {
      options.agent = this.agentFor(this.target.ca(), creds.cert, creds.key);
      if (this.target.tlsServerName)
        options.servername = this.target.tlsServerName;
    }
    return { url, options };
  }

  private async open(
    method: string,
    path: string,
    query: Record<string, string | number | boolean | undefined> = {},
    opts: {
      body?: unknown;
      contentType?: string;
      signal?: AbortSignal;
      timeoutMs?: number;
    } = {},
    retried = false,
  ): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = {};
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    let creds: Credentials;
    try {
      creds = await this.target.credentials();
    } catch (e) {
      throw new KubeApiError(
        undefined,
        undefined,
        `${method} ${path}: no credentials: ${(e as Error).message}`,
      );
    }
    const { url, options } = this.requestOptions(
      method,
      path,
      query,
      headers,
      creds,
    );
    const mod = url.protocol === 'http:' ? http : https;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request(
        url,
        { ...options, signal: opts.signal },
        resolve,
      );
      req.on('error', e =>
        reject(
          new KubeApiError(
            undefined,
            undefined,
            `${method} ${path}: ${e.message}`,
          ),
        ),
      );
      if (opts.timeoutMs) {
        req.setTimeout(opts.timeoutMs, () =>
          req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)),
        );
      }
      if (payload !== undefined) req.write(payload);
      req.end();
    });
    // A 401 to an exec plugin's credential (revoked, clock skew): run it again, once,
    // as client-go does.
    if (
      res.statusCode === 401 &&
      !retried &&
      this.target.unauthorized?.(creds)
    ) {
      res.resume();
      return this.open(method, path, query, opts, true);
    }
    return res;
  }

  /**
   * The body as text, decoded chunk by chunk into V8 strings: no Buffer.concat of a whole
   * list page, whose freed copy malloc kept as RSS (docs: the agent's memory figures).
   */
  private static async readBody(res: http.IncomingMessage): Promise<string> {
    res.setEncoding('utf8');
    let text = '';
    for await (const chunk of res) text += chunk as string;
    return text;
  }

  /** One JSON request; throws KubeApiError on a non-2xx answer. */
  async json<T = any>(
    method: string,
    path: string,
    opts: {
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
      contentType?: string;
      timeoutMs?: number;
    } = {},
  ): Promise<T> {
    const res = await this.open(method, path, opts.query, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
    let text: string;
    try {
      text = await KubeHttp.readBody(res);
    } catch (e) {
      throw new KubeApiError(
        undefined,
        undefined,
        `${method} ${path}: ${(e as Error).message}`,
      );
    }
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const retryAfter = Number(res.headers['retry-after']);
      throw new KubeApiError(
        status,
        body,
        `${method} ${path}: ${status} ${
          typeof body === 'object' ? body?.message ?? '' : text.slice(0, 200)
        }`,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      );
    }
    return body as T;
  }

  /**
   * Streams a watch: calls `onEvent` per line until the server ends the stream (resolves)
   * or it fails (rejects). A stream silent for `idleTimeoutMs` is a dead watch: it is
   * destroyed and rejects, so the caller restarts instead of stalling.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (e: WatchEvent) => void,
    opts: { signal: AbortSignal; idleTimeoutMs: number },
  ): Promise<void> {
    const res = await this.open(
      'GET',
      path,
      { ...query, watch: true },
      { signal: opts.signal, timeoutMs: opts.idleTimeoutMs },
    );
    if ((res.statusCode ?? 0) !== 200) {
      const text = await KubeHttp.readBody(res).catch(() => '');
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the text
      }
      throw new KubeApiError(
        res.statusCode,
        body,
        `watch ${path}: ${res.statusCode} ${
          body?.message ?? text.slice(0, 200)
        }`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        if (err) {
          res.destroy();
          reject(err);
        } else resolve();
      };
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(
          () =>
            finish(
              new KubeApiError(
                undefined,
                undefined,
                `watch ${path}: no data for ${opts.idleTimeoutMs} ms (dead watch)`,
              ),
            ),
          opts.idleTimeoutMs,
        );
      };
      arm();
      res.on('data', arm);
      res.on('error', e =>
        finish(
          new KubeApiError(undefined, undefined, `watch ${path}: ${e.message}`),
        ),
      );
      res.on('aborted', () =>
        finish(
          new KubeApiError(undefined, undefined, `watch ${path}: aborted`),
        ),
      );
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      // readline re-emits stream errors (abort at shutdown, reset); they end this watch.
      lines.on('error', e =>
        finish(
          new KubeApiError(undefined, undefined, `watch ${path}: ${e.message}`),
        ),
      );
      lines.on('line', line => {
        if (!line || settled) return;
        let event: WatchEvent;
        try {
          event = JSON.parse(line);
        } catch {
          finish(
            new KubeApiError(
              undefined,
              undefined,
              `watch ${path}: unparsable line`,
            ),
          );
          return;
        }
        try {
          onEvent(event);
        } catch (e) {
          finish(e as Error);
        }
      });
      lines.on('close', () => finish());
    });
  }
}
