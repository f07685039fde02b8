import WebSocket from 'ws';
import {
  AGENT_CLOSE_CODES,
  AGENT_FEATURES,
  AgentFeature,
  AGENT_PROTOCOL_LIMITS,
  AGENT_WEBSOCKET_PATH,
  AgentMessage,
  BackendMessage,
  backendMessageSchema,
  DesiredSetAssembler,
  HelloMessage,
  parseProtocolMessage,
  TrafficMessage,
} from '@spider/backstage-plugin-spider-common';
import { backoffDelay, sleep } from '../cluster/backoff';
import type { Logger } from '../log/logger';

export interface ControlsClientOptions {
  /** Base URL of the Controls service (…/api/spider); the socket goes to `<url>/agent/v1`. */
  url: string;
  token: () => string;
  hello: () => HelloMessage;
  /**
   * After the backend answered hello with its first welcome (handed to onMessage
   * first): send the inventory snapshot, instances, status. Nothing but hello goes out
   * before: a backend still processing the hello must not see other messages.
   */
  onConnected: () => void;
  /**
   * Every message but `desiredChunk`: a chunked desired set is handed over as one
   * complete `welcome` once its last chunk arrived, and never in part.
   */
  onMessage: (message: BackendMessage) => void;
  onDisconnected?: () => void;
  backoff?: { baseMs: number; maxMs: number };
  /** No frame (ping or message) from the backend for this long = dead connection. */
  silenceMs?: number;
  log: Logger;
}

/** `http(s)://host/api/spider` → `ws(s)://host/api/spider/agent/v1`. */
export function agentSocketUrl(base: string): string {
  const u = new URL(base.replace(/\/+$/, '') + AGENT_WEBSOCKET_PATH);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  return u.toString();
}

const CLOSE_NAMES = new Map<number, string>(
  Object.entries(AGENT_CLOSE_CODES).map(([name, code]) => [code, name]),
);

/**
 * The agent's connection to the Controls service: dials out, says hello, then hands
 * messages over; reconnects forever with jittered exponential backoff. The agent keeps
 * working on its last desired set while this is down.
 */
export class ControlsClient {
  private socket: WebSocket | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private isOpen = false;
  private failures = 0;

  constructor(private readonly options: ControlsClientOptions) {}

  /** True once the current connection got its welcome. */
  get connected(): boolean {
    return this.isOpen && this.established;
  }
  private established = false;
  /** What the backend announced in its welcome on this connection. */
  private peerFeatures = new Set<string>();

  /** Connected, and the backend's welcome announced `feature`. */
  supports(feature: AgentFeature): boolean {
    return this.connected && this.peerFeatures.has(feature);
  }

  /** Bytes handed to the socket and not yet written (0 without one). */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.socket?.close(AGENT_CLOSE_CODES.goingAway, 'agent shutting down');
    await this.loop;
  }

  /**
   * Sends when connected; false (dropped) otherwise or when too big. A message of a
   * feature goes only to a backend that announced it (`traffic`: see sendTraffic).
   */
  send(message: AgentMessage): boolean {
    if (message.type === 'traffic') return this.sendTraffic(message) === 'sent';
    return (
      this.sendText(
        message.type,
        JSON.stringify(message),
        AGENT_PROTOCOL_LIMITS.maxMessageBytes,
      ) === 'sent'
    );
  }

  /**
   * Sends one traffic message when the backend takes traffic. `written` runs once the
   * socket wrote it out (with an error if it never will), for the relay's backpressure.
   */
  sendTraffic(
    message: TrafficMessage,
    written?: (error?: Error) => void,
  ): 'sent' | 'notConnected' | 'tooBig' {
    if (!this.supports('traffic')) return 'notConnected';
    return this.sendText(
      'traffic',
      JSON.stringify(message),
      AGENT_PROTOCOL_LIMITS.maxTrafficMessageBytes,
      written,
    );
  }

  private sendText(
    type: string,
    text: string,
    maxBytes: number,
    written?: (error?: Error) => void,
  ): 'sent' | 'notConnected' | 'tooBig' {
    const s = this.socket;
    if (!s || !this.connected || s.readyState !== WebSocket.OPEN)
      return 'notConnected';
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) {
      this.options.log.error('message too big for the protocol; dropped', {
        type,
        bytes,
      });
      return 'tooBig';
    }
    s.send(text, written ? err => written(err ?? undefined) : undefined);
    return 'sent';
  }

  private async run(): Promise<void> {
    const { log } = this.options;
    // Capped at 15 s: after a backend restart agents are back within seconds, and the
    // jitter (half to full delay) keeps a fleet of agents from arriving at once.
    const backoff = this.options.backoff ?? { baseMs: 1000, maxMs: 15_000 };
    while (!this.abort.signal.aborted) {
      const started = Date.now();
      const outcome = await this.connectOnce();
      if (this.abort.signal.aborted) break;
      // A connection that lived a while resets the backoff.
      if (Date.now() - started > 30_000 && outcome.welcomed) this.failures = 0;
      this.failures++;
      let delay = backoffDelay(this.failures, backoff.baseMs, backoff.maxMs);
      if (
        outcome.code === AGENT_CLOSE_CODES.revoked ||
        outcome.httpStatus === 401
      ) {
        // Retrying a revoked token quickly is pointless; keep trying slowly (a new token file may appear).
        delay = Math.max(delay, backoff.maxMs);
      }
      log.warn('disconnected from the Controls service; reconnecting', {
        code: outcome.code,
        closeReason: outcome.reason || CLOSE_NAMES.get(outcome.code ?? 0),
        httpStatus: outcome.httpStatus,
        error: outcome.error,
        retryInMs: delay,
        attempt: this.failures,
      });
      await sleep(delay, this.abort.signal);
    }
  }

  private connectOnce(): Promise<{
    code?: number;
    reason?: string;
    httpStatus?: number;
    error?: string;
    welcomed: boolean;
  }> {
    const { log } = this.options;
    const url = agentSocketUrl(this.options.url);
    return new Promise(resolve => {
      let welcomed = false;
      let settled = false;
      let silence: NodeJS.Timeout | undefined;
      // Per connection: a set cut off by a disconnect dies with it.
      const assembler = new DesiredSetAssembler();
      // Set when this side gives up on the connection: frames still arriving while it
      // closes are not handled (they could be the rest of a broken set).
      let abandoned = false;
      const socket = new WebSocket(url, {
        headers: { Authorization: `Bearer ${this.options.token()}` },
        maxPayload: AGENT_PROTOCOL_LIMITS.maxMessageBytes,
        handshakeTimeout: 15_000,
      });
      this.socket = socket;
      const abandon = (code: number, reason: string) => {
        abandoned = true;
        assembler.reset();
        socket.close(code, reason.slice(0, 120));
      };
      const silenceMs =
        this.options.silenceMs ?? AGENT_PROTOCOL_LIMITS.pingIntervalMs * 4;
      const alive = () => {
        clearTimeout(silence);
        silence = setTimeout(() => {
          log.warn(
            'no ping from the Controls service; dropping the connection',
            { silenceMs },
          );
          socket.terminate();
        }, silenceMs);
      };
      const done = (r: {
        code?: number;
        reason?: string;
        httpStatus?: number;
        error?: string;
      }) => {
        if (settled) return;
        settled = true;
        clearTimeout(silence);
        const wasConnected = this.connected;
        this.isOpen = false;
        this.established = false;
        this.peerFeatures = new Set();
        if (wasConnected) this.options.onDisconnected?.();
        resolve({ ...r, welcomed });
      };
      socket.on('unexpected-response', (_req, res) => {
        const status = res.statusCode;
        log.error(
          status === 401 || status === 403
            ? 'the Controls service rejected the agent token'
            : 'the Controls service refused the connection',
          { httpStatus: status },
        );
        res.resume();
        socket.terminate();
        done({ httpStatus: status });
      });
      socket.on('open', () => {
        this.isOpen = true;
        this.established = false;
        alive();
        // The client announces what this agent can send, whatever the caller's hello says.
        socket.send(
          JSON.stringify({
            ...this.options.hello(),
            features: [...AGENT_FEATURES],
          }),
        );
        log.info('connected to the Controls service; hello sent', { url });
      });
      socket.on('ping', alive);
      socket.on('pong', alive);
      socket.on('message', (data, isBinary) => {
        alive();
        if (abandoned) return;
        if (isBinary) {
          socket.close(
            AGENT_CLOSE_CODES.unsupportedData,
            'binary frames are not supported',
          );
          return;
        }
        const parsed = parseProtocolMessage(
          backendMessageSchema,
          data.toString(),
        );
        if (!parsed.ok) {
          // One bad message is logged and skipped; the backend validates its own output.
          log.warn('invalid message from the Controls service ignored', {
            error: parsed.error,
          });
          // Skipping one chunk of a desired set would break it: start over instead.
          if (assembler.inProgress)
            abandon(
              AGENT_CLOSE_CODES.invalidMessage,
              'invalid message inside a chunked desired set',
            );
          return;
        }
        let message = parsed.message;
        if (message.type === 'welcome' || message.type === 'desiredChunk') {
          const r = assembler.accept(message);
          if (r.state === 'pending') return;
          if (r.state === 'error') {
            // Nothing of the broken set is applied; a new connection brings a whole one.
            log.error('broken desired set from the Controls service', {
              error: r.error,
            });
            abandon(AGENT_CLOSE_CODES.protocolError, r.error);
            return;
          }
          message = r.welcome;
        } else if (assembler.inProgress) {
          log.error('the Controls service interrupted a chunked desired set', {
            type: message.type,
          });
          abandon(
            AGENT_CLOSE_CODES.protocolError,
            `${message.type} inside a chunked desired set`,
          );
          return;
        }
        const first = message.type === 'welcome' && !this.established;
        if (message.type === 'welcome')
          this.peerFeatures = new Set(message.features ?? []);
        if (first) {
          welcomed = true;
          this.established = true;
        }
        try {
          this.options.onMessage(message);
        } catch (e) {
          log.error('handling a Controls message failed', {
            type: message.type,
            error: e,
          });
        }
        if (first) {
          try {
            this.options.onConnected();
          } catch (e) {
            log.error('on-connect handler failed', { error: e });
          }
        }
      });
      socket.on('close', (code, reason) =>
        done({ code, reason: reason.toString() }),
      );
      socket.on('error', err => {
        done({ error: err.message });
        socket.terminate();
      });
    });
  }
}
