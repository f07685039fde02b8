import { randomUUID } from 'node:crypto';
import { LoggerService } from '@backstage/backend-plugin-api';
import WebSocket from 'ws';
import {
  AGENT_CLOSE_CODES,
  AGENT_PROTOCOL_LIMITS,
  AGENT_PROTOCOL_VERSION,
  AgentMessage,
  agentMessageSchema,
  BackendMessage,
  HelloMessage,
  ListWorkloadsParams,
  ListWorkloadsResult,
  listWorkloadsResultSchema,
  parseProtocolMessage,
} from '@spider/backstage-plugin-spider-common';

export class AgentRequestTimeoutError extends Error {
  name = 'GatewayTimeoutError';
}
export class AgentUnavailableError extends Error {
  name = 'ServiceUnavailableError';
}

export interface AgentSessionOptions {
  /** The backend stores traffic (it announced the feature in its welcome). */
  acceptTraffic?: boolean;
}

export interface AgentSessionHandlers {
  onHello(session: AgentSession, hello: HelloMessage): Promise<void>;
  onMessage(session: AgentSession, message: AgentMessage): Promise<void>;
  onClose(session: AgentSession): Promise<void>;
}

/**
 * One agent's socket: the hello handshake, ping/pong liveness, ordered handling of its
 * messages and request/reply with timeouts.
 */
export class AgentSession {
  static readonly MAX_BACKLOG = 1000;
  /** Bytes of received messages waiting: above this the socket is paused (TCP backpressure). */
  static readonly PAUSE_BACKLOG_BYTES = 8 * 1024 * 1024;
  /** ...and resumed below this. */
  static readonly RESUME_BACKLOG_BYTES = 2 * 1024 * 1024;
  /** An agent that gets past the pause with this much waiting is cut off. */
  static readonly MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
  /** Frames sent at once above this size (a chunked welcome) earn the agent ping grace. */
  static readonly BULK_SEND_BYTES = 1024 * 1024;
  readonly sessionId = randomUUID();
  /** Revision of the desired set last sent to the agent. */
  sentRevision = -1;
  /**
   * Ids of the desired set as the agent was last given it (its welcome, then every push
   * and delta since); undefined until it is welcomed. The sync loop sends the difference.
   */
  sentIds: Set<string> | undefined;
  /** Highest revision any attach/detach/welcome sent carried (a detach may run ahead). */
  agentRevision = -1;
  /**
   * Counts pushes: a set read from the database before a push and sent after it would
   * undo the push (a welcome stops what it lacks), so such a set is not sent.
   */
  pushes = 0;
  /** A welcome or delta is being read and sent: the sync loop does not start another. */
  syncing = false;
  hello: HelloMessage | undefined;
  private alive = true;
  private missedPongs = 0;
  private lastBuffered = Number.POSITIVE_INFINITY;
  private lastBulkSendAt = 0;
  private readonly pending = new Map<
    string,
    {
      resolve(v: ListWorkloadsResult): void;
      reject(e: Error): void;
      timer: NodeJS.Timeout;
    }
  >();
  private queue: Promise<void> = Promise.resolve();
  /** Messages received but not yet handled; an agent flooding faster than we write is cut off. */
  private backlog = 0;
  private backlogBytes = 0;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly helloTimer: NodeJS.Timeout;
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly controllerId: string,
    readonly tokenHash: string,
    private readonly handlers: AgentSessionHandlers,
    private readonly logger: LoggerService,
    private readonly options: AgentSessionOptions = {},
  ) {
    ws.on('message', (data, isBinary) =>
      this.receive(data as Buffer, isBinary),
    );
    ws.on('pong', () => {
      this.alive = true;
      this.missedPongs = 0;
    });
    ws.on('close', () => this.handleClose());
    ws.on('error', err => {
      this.logger.warn(
        `Agent socket error for Controller ${controllerId}: ${err.message}`,
      );
    });
    this.pingTimer = setInterval(
      () => this.ping(),
      AGENT_PROTOCOL_LIMITS.pingIntervalMs,
    );
    this.pingTimer.unref?.();
    this.helloTimer = setTimeout(() => {
      if (!this.hello)
        this.close(AGENT_CLOSE_CODES.helloTimeout, 'no hello received in time');
    }, AGENT_PROTOCOL_LIMITS.helloTimeoutMs);
    this.helloTimer.unref?.();
  }

  get isAlive() {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  private ping() {
    // A socket paused for backpressure cannot read pongs; the agent is not at fault.
    if (this.ws.isPaused) this.alive = true;
    // A ping waits behind whatever is still unsent (a chunked welcome of tens of MB to a
    // slow reader): while that drains, the agent is reading, not gone.
    const buffered = this.ws.bufferedAmount;
    if (buffered > 0 && buffered < this.lastBuffered) {
      this.alive = true;
      this.lastBulkSendAt = Date.now();
    }
    this.lastBuffered = buffered;
    // Once all of it has left, the agent may still be reading and applying megabytes of
    // it, its pongs queued behind that work: two more periods of grace.
    if (
      Date.now() - this.lastBulkSendAt <
      2 * AGENT_PROTOCOL_LIMITS.pingIntervalMs
    )
      this.alive = true;
    if (!this.alive) {
      this.missedPongs += 1;
      if (this.missedPongs >= 2) {
        this.logger.info(
          `Agent of Controller ${this.controllerId} stopped answering pings; dropping it`,
        );
        this.ws.terminate();
        return;
      }
    }
    this.alive = false;
    try {
      this.ws.ping();
    } catch {
      /* socket already closing */
    }
  }

  private receive(data: Buffer, isBinary: boolean) {
    // Any frame is proof of life: an agent flushing a backlog through a slow database has
    // its pongs queued behind its own traffic, and must not be dropped for it.
    this.alive = true;
    this.missedPongs = 0;
    if (isBinary) {
      this.close(
        AGENT_CLOSE_CODES.unsupportedData,
        'binary frames are not part of the protocol',
      );
      return;
    }
    const text = data.toString('utf8');
    // Traffic has a lower cap than other messages (the socket's maxPayload): a traffic
    // frame over it is refused as too big, whatever else is wrong with it.
    if (
      data.length > AGENT_PROTOCOL_LIMITS.maxTrafficMessageBytes &&
      isTrafficFrame(text)
    ) {
      this.close(
        AGENT_CLOSE_CODES.messageTooBig,
        `traffic messages are capped at ${AGENT_PROTOCOL_LIMITS.maxTrafficMessageBytes} bytes`,
      );
      return;
    }
    const parsed = parseProtocolMessage(agentMessageSchema, text);
    if (!parsed.ok) {
      this.logger.warn(
        `Agent of Controller ${this.controllerId} sent a bad message: ${parsed.error}`,
      );
      this.close(AGENT_CLOSE_CODES.invalidMessage, parsed.error);
      return;
    }
    const message = parsed.message;
    // The handshake is checked here, synchronously, so that messages an agent pipelines
    // right after its hello are accepted and queued behind it.
    if (message.type === 'hello') {
      if (this.hello) {
        this.close(
          AGENT_CLOSE_CODES.protocolError,
          'hello was already received',
        );
        return;
      }
      if (message.protocol !== AGENT_PROTOCOL_VERSION) {
        this.close(
          AGENT_CLOSE_CODES.unsupportedProtocol,
          `protocol ${message.protocol} is not supported; this backend speaks ${AGENT_PROTOCOL_VERSION}`,
        );
        return;
      }
      this.hello = message;
      clearTimeout(this.helloTimer);
    } else if (!this.hello) {
      this.close(
        AGENT_CLOSE_CODES.protocolError,
        'the first message must be hello',
      );
      return;
    }
    if (message.type === 'reply') {
      this.settle(message.id, message);
      return;
    }
    if (message.type === 'traffic') {
      if (!this.hello.features?.includes('traffic')) {
        this.close(
          AGENT_CLOSE_CODES.protocolError,
          'traffic sent without announcing the traffic feature in hello',
        );
        return;
      }
      if (!this.options.acceptTraffic) {
        this.close(
          AGENT_CLOSE_CODES.protocolError,
          'this backend did not announce the traffic feature',
        );
        return;
      }
    }
    if (
      this.backlog >= AgentSession.MAX_BACKLOG ||
      this.backlogBytes + data.length > AgentSession.MAX_BACKLOG_BYTES
    ) {
      this.close(
        AGENT_CLOSE_CODES.policyViolation,
        'too many messages waiting to be handled; slow down',
      );
      return;
    }
    this.backlog += 1;
    this.backlogBytes += data.length;
    if (
      this.backlogBytes > AgentSession.PAUSE_BACKLOG_BYTES &&
      !this.ws.isPaused
    )
      this.ws.pause();
    // Messages touch the database in order; a slow write must not reorder them.
    this.queue = this.queue
      .then(async () => {
        if (this.closed) return;
        if (message.type === 'hello')
          await this.handlers.onHello(this, message);
        else await this.handlers.onMessage(this, message);
      })
      .catch(err => {
        this.logger.error(
          `Failed to handle a ${message.type} from Controller ${this.controllerId}`,
          err,
        );
      })
      .finally(() => {
        this.backlog -= 1;
        this.backlogBytes -= data.length;
        if (
          this.ws.isPaused &&
          this.backlogBytes < AgentSession.RESUME_BACKLOG_BYTES &&
          !this.closed
        )
          this.ws.resume();
      });
  }

  send(message: BackendMessage): boolean {
    if (!this.isAlive) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Sends already serialised messages, in order, all in this tick. */
  sendFrames(frames: string[]): boolean {
    if (!this.isAlive) return false;
    let bytes = 0;
    for (const f of frames) {
      this.ws.send(f);
      bytes += f.length;
    }
    if (bytes >= AgentSession.BULK_SEND_BYTES) this.lastBulkSendAt = Date.now();
    return true;
  }

  request(
    params: ListWorkloadsParams,
    timeoutMs: number,
  ): Promise<ListWorkloadsResult> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new AgentRequestTimeoutError(
            `The agent did not answer within ${Math.round(
              timeoutMs / 1000,
            )} s; try again, or check the agent's health`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const sent = this.send({
        type: 'request',
        id,
        method: 'listWorkloads',
        timeoutMs,
        params,
      });
      if (!sent) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new AgentUnavailableError('The agent is not connected'));
      }
    });
  }

  private settle(id: string, reply: Extract<AgentMessage, { type: 'reply' }>) {
    const entry = this.pending.get(id);
    if (!entry) return; // late reply after a timeout
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (!reply.ok) {
      entry.reject(
        new Error(
          `The agent could not list workloads: ${
            reply.error?.message ?? 'unknown error'
          }`,
        ),
      );
      return;
    }
    const parsed = listWorkloadsResultSchema.safeParse(reply.result);
    if (!parsed.success)
      entry.reject(
        new Error('The agent answered with an invalid workload list'),
      );
    else entry.resolve(parsed.data);
  }

  close(code: number, reason: string) {
    if (this.closed) return;
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    // A peer that never completes the closing handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2000).unref?.();
    this.handleClose();
  }

  private handleClose() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.helloTimer);
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(
        new AgentUnavailableError('The agent disconnected before answering'),
      );
      this.pending.delete(id);
    }
    this.queue = this.queue
      .then(() => this.handlers.onClose(this))
      .catch(err =>
        this.logger.error(
          `Failed to record disconnect of Controller ${this.controllerId}`,
          err,
        ),
      );
  }
}

/** Whether an oversized frame is a traffic message (its top-level type), without trusting it. */
function isTrafficFrame(text: string): boolean {
  try {
    const json = JSON.parse(text);
    return typeof json === 'object' && json !== null && json.type === 'traffic';
  } catch {
    return false;
  }
}
