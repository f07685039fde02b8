import { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { LoggerService } from '@backstage/backend-plugin-api';
import { WebSocketServer } from 'ws';
import {
  AGENT_CLOSE_CODES,
  AGENT_PROTOCOL_LIMITS,
  AGENT_PROTOCOL_VERSION,
  AgentMessage,
  DesiredAttachment,
  HelloMessage,
  ListWorkloadsParams,
  ListWorkloadsResult,
  welcomeFrames,
} from '@spider/backstage-plugin-spider-common';
import { ControllersStore, hashAgentToken } from '../store/ControllersStore';
import { AttachmentsStore } from '../store/AttachmentsStore';
import { InventoryStore } from '../store/InventoryStore';
import { SpiderEvents } from '../events/SpiderEvents';
import { TrafficIngest } from '../traffic/TrafficIngest';
import { AgentSession, AgentUnavailableError } from './AgentSession';
import { desiredDelta } from './desiredDelta';
import { clientAddress, FailedAuthLimiter } from './FailedAuthLimiter';

export interface AgentGatewayOptions {
  logger: LoggerService;
  controllers: ControllersStore;
  attachments: AttachmentsStore;
  inventory: InventoryStore;
  events: SpiderEvents;
  maxConnections: number;
  /** Stores `traffic` messages; without it the backend does not announce the feature. */
  traffic?: TrafficIngest;
  /** How often held sockets are checked against the database (revision, token). */
  syncIntervalMs?: number;
  /** Reverse proxies whose client-address header is believed (`spider.agents.trustedProxies`). */
  trustedProxy?: { header?: string; proxies: string[] };
}

/**
 * The agent side of the Controls service: authenticates agents by Controller token,
 * holds their sockets, keeps each agent converged on its desired set, and routes
 * requests to it. Desired state lives in the database, so a change made on another
 * backend replica reaches the agent through the revision check.
 */
export class AgentGateway {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: AGENT_PROTOCOL_LIMITS.maxMessageBytes,
    perMessageDeflate: false,
  });
  private readonly sessions = new Map<string, AgentSession>();
  private readonly limiter = new FailedAuthLimiter();
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing = false;
  private syncTicks = 0;
  private upgrading = 0;

  constructor(private readonly options: AgentGatewayOptions) {}

  start() {
    this.syncTimer = setInterval(() => {
      this.sync().catch(err =>
        this.options.logger.warn(`Agent sync failed: ${err}`),
      );
    }, this.options.syncIntervalMs ?? 1000);
    this.syncTimer.unref?.();
  }

  async stop() {
    clearInterval(this.syncTimer);
    const all = [...this.sessions.values()];
    for (const s of all)
      s.close(AGENT_CLOSE_CODES.goingAway, 'backend shutting down');
    await Promise.all(
      all.map(s =>
        this.options.controllers
          .markDisconnected(s.controllerId, s.sessionId)
          .catch(() => {}),
      ),
    );
    this.wss.close();
  }

  get connectionCount() {
    return this.sessions.size;
  }

  isConnectedHere(controllerId: string): boolean {
    return this.sessions.get(controllerId)?.isAlive ?? false;
  }

  /** Handles the raw upgrade handed over by the httpRouter. */
  async handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    const ip = clientAddress(
      request.socket.remoteAddress,
      request.headers,
      this.options.trustedProxy ?? { proxies: [] },
    );
    const auth = request.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9_\-]{10,200})$/.exec(auth);
    if (!match) {
      this.limiter.fail(ip, '');
      rejectUpgrade(
        socket,
        401,
        'Send the Controller token as "Authorization: Bearer <token>"',
      );
      return;
    }
    const tokenHash = hashAgentToken(match[1]);
    // The same wrong token again and again (an agent left with a rotated token): refused
    // without a lookup, and only that token; other agents behind the address go on.
    if (this.limiter.isCredentialBlocked(tokenHash)) {
      rejectUpgrade(
        socket,
        429,
        'This token failed too often; install the current token and retry in a minute',
      );
      return;
    }
    if (this.sessions.size + this.upgrading >= this.options.maxConnections) {
      rejectUpgrade(
        socket,
        503,
        'This backend holds its maximum number of agent connections',
      );
      return;
    }
    this.upgrading += 1;
    try {
      const controllerId = await this.options.controllers.findIdByTokenHash(
        tokenHash,
      );
      if (!controllerId) {
        this.limiter.fail(ip, tokenHash);
        // A limited address still lets valid tokens through (above); unknown ones get 429.
        if (this.limiter.isAddressLimited(ip)) {
          rejectUpgrade(
            socket,
            429,
            'Too many failed attempts from this address; wait a minute',
          );
        } else {
          rejectUpgrade(
            socket,
            401,
            'The Controller token is not valid (rotated, or the Controller was deleted)',
          );
        }
        return;
      }
      await new Promise<void>(resolve => {
        this.wss.handleUpgrade(request, socket, head, ws => {
          const session = new AgentSession(
            ws,
            controllerId,
            tokenHash,
            {
              onHello: (s, hello) => this.onHello(s, hello),
              onMessage: (s, m) => this.onMessage(s, m),
              onClose: s => this.onClose(s),
            },
            this.options.logger,
            { acceptTraffic: this.options.traffic !== undefined },
          );
          void session;
          resolve();
        });
      });
    } finally {
      this.upgrading -= 1;
    }
  }

  private async onHello(session: AgentSession, hello: HelloMessage) {
    const previous = this.sessions.get(session.controllerId);
    if (previous && previous !== session) {
      previous.close(
        AGENT_CLOSE_CODES.replaced,
        'a newer connection of this Controller took over',
      );
    }
    this.sessions.set(session.controllerId, session);
    await this.options.controllers.markConnected(
      session.controllerId,
      session.sessionId,
      hello,
    );
    await this.sendWelcome(session);
    this.options.logger.info(
      `Agent ${hello.agentVersion} of Controller ${
        session.controllerId
      } connected (cluster ${hello.clusterVersion ?? 'unknown'})`,
    );
    this.options.events.publish({
      kind: 'controller',
      id: session.controllerId,
    });
  }

  private async sendWelcome(session: AgentSession) {
    session.syncing = true;
    try {
      await this.welcome(session);
    } finally {
      session.syncing = false;
    }
  }

  private async welcome(session: AgentSession) {
    const pushes = session.pushes;
    const state = await this.options.controllers.syncState([
      session.controllerId,
    ]);
    const revision = state.get(session.controllerId)?.revision ?? 0;
    const attachments = await this.options.attachments.desiredFor(
      session.controllerId,
    );
    // However many attachments there are, no frame exceeds the cap: an agent that can
    // assemble chunks gets them; an older one gets one welcome while the set fits one.
    const result = welcomeFrames(
      {
        protocol: AGENT_PROTOCOL_VERSION,
        controllerId: session.controllerId,
        revision,
        features: [
          ...(this.options.traffic ? ['traffic'] : []),
          'chunkedWelcome',
        ],
      },
      attachments,
      {
        chunked: session.hello?.features?.includes('chunkedWelcome') ?? false,
      },
    );
    if (!result.ok) {
      // Sending it anyway would have the agent drop the socket (1009) and reconnect
      // forever without ever being welcomed; saying why is the most this side can do.
      this.options.logger.error(
        `Cannot welcome the agent of Controller ${session.controllerId}: ${result.error}`,
      );
      session.close(
        AGENT_CLOSE_CODES.messageTooBig,
        'the desired set is too big for one frame; upgrade the agent to one with chunkedWelcome',
      );
      return;
    }
    // A push went out while the set was read: the set may predate it, and the agent
    // would stop the pushed attachment for good. The next sync tick sends a fresh one.
    if (session.pushes !== pushes) return;
    // The frames go out back to back in one tick: nothing (an attach push, a request)
    // can come between the chunks of a set, as the agent requires.
    if (session.sendFrames(result.frames)) {
      session.sentRevision = revision;
      session.sentIds = new Set(attachments.map(a => a.id));
      session.agentRevision = Math.max(session.agentRevision, revision);
    }
  }

  /**
   * Brings a welcomed agent from the set it was given to the one at `revision` with plain
   * `attach` and `detach` messages (protocol v1 from the start, so every agent takes
   * them): a change made on another replica costs its own size, not the whole set's
   * (2,000 large attachments are 66 MB). Removed ones get reason `deleted`, as a welcome
   * lacking them would have stopped them.
   */
  private async sendDelta(session: AgentSession, revision: number) {
    session.syncing = true;
    try {
      await this.delta(session, revision);
    } finally {
      session.syncing = false;
    }
  }

  private async delta(session: AgentSession, revision: number) {
    const pushes = session.pushes;
    const sent = session.sentIds;
    if (!sent) return;
    // The ids, then only the attachments the agent lacks: a change costs its own size
    // in reads too, not the whole set's.
    const ids = await this.options.attachments.desiredIdsFor(
      session.controllerId,
    );
    const delta = desiredDelta(sent, ids);
    const fetched = delta.added.length
      ? await this.options.attachments.desiredMany(delta.added)
      : [];
    // As for a welcome: a set read before a push (or a new welcome) is not sent after it.
    if (session.pushes !== pushes || session.sentIds !== sent) return;
    const byId = new Map(fetched.map(a => [a.id, a]));
    // One ended between the two reads is neither sent nor counted as sent.
    const added = delta.added.filter(id => byId.has(id));
    const removed = delta.removed;
    // The agent ignores messages older than the newest it got; a detach pushed from here
    // may have carried a revision beyond the one this delta brings the set to.
    const carried = Math.max(revision, session.agentRevision);
    const frames = [
      ...removed.map(attachmentId =>
        JSON.stringify({
          type: 'detach',
          revision: carried,
          attachmentId,
          reason: 'deleted',
        }),
      ),
      ...added.map(id =>
        JSON.stringify({
          type: 'attach',
          revision: carried,
          attachment: byId.get(id),
        }),
      ),
    ];
    if (frames.length > 0 && !session.sendFrames(frames)) return;
    for (const id of removed) sent.delete(id);
    for (const id of added) sent.add(id);
    session.sentRevision = revision;
    if (frames.length > 0) session.agentRevision = carried;
  }

  private async onMessage(session: AgentSession, message: AgentMessage) {
    const id = session.controllerId;
    switch (message.type) {
      case 'inventory':
        if (message.mode === 'snapshot' && message.first)
          await this.options.inventory.clear(id);
        await this.options.inventory.apply(
          id,
          message.upserts,
          message.removed,
        );
        if (message.mode === 'delta' || message.last) {
          this.options.events.publish({ kind: 'controller', id });
        }
        break;
      case 'instances': {
        const changed = await this.options.attachments.applyAgentReport(
          id,
          message.attachments,
        );
        for (const attachmentId of changed) {
          this.options.events.publish({
            kind: 'attachment',
            id: attachmentId,
            controllerId: id,
          });
        }
        break;
      }
      case 'traffic':
        // The session let it through only when both sides announced the feature.
        try {
          await this.options.traffic?.ingest(id, message);
        } catch (err) {
          // There is no ack: closing is how the agent learns. It replays what it sent recently.
          session.close(
            AGENT_CLOSE_CODES.trafficNotStored,
            'traffic could not be stored; reconnect and send it again',
          );
          throw err;
        }
        break;
      case 'status':
        await this.options.controllers.saveStatus(id, message.status);
        this.options.events.publish({ kind: 'controller', id });
        break;
      default:
        break;
    }
  }

  private async onClose(session: AgentSession) {
    if (this.sessions.get(session.controllerId) === session) {
      this.sessions.delete(session.controllerId);
    }
    if (session.hello) {
      await this.options.controllers.markDisconnected(
        session.controllerId,
        session.sessionId,
      );
      this.options.events.publish({
        kind: 'controller',
        id: session.controllerId,
      });
    }
  }

  /** Pushes one attach to the agent right away when it is connected here. */
  pushAttach(
    controllerId: string,
    revision: number,
    attachment: DesiredAttachment,
  ) {
    const s = this.sessions.get(controllerId);
    if (!s?.isAlive || !s.sentIds) return;
    if (s.sentRevision !== revision - 1) {
      // Missed an intermediate change: the sync loop will send the difference.
      return;
    }
    if (s.send({ type: 'attach', revision, attachment })) {
      s.pushes += 1;
      s.sentRevision = revision;
      s.sentIds.add(attachment.id);
      s.agentRevision = Math.max(s.agentRevision, revision);
    }
  }

  /** Pushes one detach to the agent right away when it is connected here. */
  pushDetach(
    controllerId: string,
    revision: number,
    attachmentId: string,
    reason: 'detached' | 'expired' | 'deleted',
  ) {
    const s = this.sessions.get(controllerId);
    // Not welcomed yet: its welcome, read after this detach, will lack the attachment.
    if (!s?.isAlive || !s.sentIds) return;
    if (s.send({ type: 'detach', revision, attachmentId, reason })) {
      s.pushes += 1;
      s.sentIds.delete(attachmentId);
      s.agentRevision = Math.max(s.agentRevision, revision);
      if (s.sentRevision === revision - 1) s.sentRevision = revision;
    }
  }

  /** Closes the agent's socket at once (token rotated, Controller deleted). */
  revoke(controllerId: string, reason: string) {
    this.sessions.get(controllerId)?.close(AGENT_CLOSE_CODES.revoked, reason);
  }

  async request(
    controllerId: string,
    params: ListWorkloadsParams,
    timeoutMs: number,
  ): Promise<ListWorkloadsResult> {
    const s = this.sessions.get(controllerId);
    if (!s?.isAlive || !s.hello) {
      throw new AgentUnavailableError(
        'The agent of this Controller is not connected to this backend',
      );
    }
    return s.request(params, timeoutMs);
  }

  /**
   * For every socket held here: refresh its heartbeat, close it if its token changed or
   * its Controller is gone, and send what changed in its desired set when the revision
   * moved on (a change made on another replica, or a push that was skipped); the full
   * set only to an agent not welcomed yet.
   */
  async sync() {
    if (this.syncing || this.sessions.size === 0) return;
    this.syncing = true;
    try {
      const held = new Map<string, string>();
      for (const [id, s] of this.sessions)
        if (s.hello && s.isAlive) held.set(id, s.sessionId);
      if (held.size === 0) return;
      // Heartbeats every 5 s are plenty against the 15 s connected grace, and keep the
      // per-second check a read.
      if (this.syncTicks++ % 5 === 0)
        await this.options.controllers.touch(held);
      const state = await this.options.controllers.syncState([...held.keys()]);
      for (const [id] of held) {
        const s = this.sessions.get(id);
        if (!s) continue;
        const row = state.get(id);
        if (!row) {
          s.close(AGENT_CLOSE_CODES.revoked, 'the Controller was deleted');
        } else if (row.tokenHash !== s.tokenHash) {
          s.close(
            AGENT_CLOSE_CODES.revoked,
            'the Controller token was rotated',
          );
        } else if (row.revision !== s.sentRevision && !s.syncing) {
          // (While its welcome, tens of MB for a large set, is still being read or sent,
          // a second one would double that work and arrive right behind it.)
          if (s.sentIds) await this.sendDelta(s, row.revision);
          else await this.sendWelcome(s);
        }
      }
    } finally {
      this.syncing = false;
    }
  }
}

function rejectUpgrade(socket: Duplex, status: number, message: string) {
  const body = JSON.stringify({
    error: { name: status === 401 ? 'AuthenticationError' : 'Error', message },
    response: { statusCode: status },
  });
  const text =
    {
      401: 'Unauthorized',
      429: 'Too Many Requests',
      503: 'Service Unavailable',
    }[status] ?? 'Error';
  socket.write(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(
      body,
    )}\r\n\r\n${body}`,
  );
  socket.destroy();
}

export { AgentUnavailableError };
