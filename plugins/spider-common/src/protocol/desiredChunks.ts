import {
  AGENT_PROTOCOL_LIMITS,
  DesiredAttachment,
  DesiredChunkMessage,
  WelcomeMessage,
} from './v1';

/**
 * The desired set on the wire (feature `chunkedWelcome`), both ends of it, as pure code:
 * the backend cuts a set into frames with `welcomeFrames`, the agent puts it back
 * together with `DesiredSetAssembler`. Nothing here does I/O.
 */

/** What a welcome says besides its attachments. */
export type WelcomeEnvelope = Pick<
  WelcomeMessage,
  'protocol' | 'controllerId' | 'revision' | 'features'
>;

export type WelcomeFramesResult =
  | {
      ok: true;
      /** JSON text frames to send in this order, back to back. */
      frames: string[];
      /** Largest frame in bytes (UTF-8). */
      maxFrameBytes: number;
    }
  | { ok: false; error: string };

export interface WelcomeFramesOptions {
  /** The agent announced `chunkedWelcome`. */
  chunked: boolean;
  /** Frame budget when chunking (default AGENT_PROTOCOL_LIMITS.desiredChunkBytes). */
  chunkBytes?: number;
  /** Attachments per frame (default AGENT_PROTOCOL_LIMITS.desiredChunkAttachments). */
  chunkAttachments?: number;
  /** The frame cap both sides enforce (default AGENT_PROTOCOL_LIMITS.maxMessageBytes). */
  maxMessageBytes?: number;
}

/** UTF-8 length of a string without encoding it (this package also runs in browsers). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair is one 4-byte code point.
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** `{...envelope, attachments: [parts]}` as JSON, each attachment serialised once. */
function frameText(envelope: object, parts: string[]): string {
  const head = JSON.stringify(envelope);
  return `${head.slice(0, -1)},"attachments":[${parts.join(',')}]}`;
}

/**
 * The frames that carry a desired set to an agent. One `welcome` when the set fits a
 * frame (or the agent cannot assemble chunks); otherwise a `welcome` with `more: true`
 * and the first chunk, then `desiredChunk` messages, each at most `chunkBytes`. An error
 * (to log and close with) when an agent without `chunkedWelcome` would need more than
 * one frame, or when one attachment alone cannot fit a chunk.
 */
export function welcomeFrames(
  envelope: WelcomeEnvelope,
  attachments: DesiredAttachment[],
  options: WelcomeFramesOptions,
): WelcomeFramesResult {
  const maxMessageBytes =
    options.maxMessageBytes ?? AGENT_PROTOCOL_LIMITS.maxMessageBytes;
  const chunkBytes = Math.min(
    options.chunkBytes ?? AGENT_PROTOCOL_LIMITS.desiredChunkBytes,
    maxMessageBytes,
  );
  const chunkAttachments =
    options.chunkAttachments ?? AGENT_PROTOCOL_LIMITS.desiredChunkAttachments;
  const welcome = { type: 'welcome' as const, ...envelope };
  const parts = attachments.map(a => JSON.stringify(a));
  const sizes = parts.map(utf8Length);
  const whole = frameText(welcome, parts);
  const wholeBytes = utf8Length(whole);
  const fitsOne = (limit: number) =>
    wholeBytes <= limit && parts.length <= chunkAttachments;

  if (!options.chunked || fitsOne(chunkBytes)) {
    if (fitsOne(maxMessageBytes))
      return { ok: true, frames: [whole], maxFrameBytes: wholeBytes };
    return {
      ok: false,
      error: `the desired set (${attachments.length} attachments, ${wholeBytes} bytes) does not fit one ${maxMessageBytes}-byte frame and the agent did not announce chunkedWelcome; upgrade the agent`,
    };
  }

  // The largest envelope a chunk can have: the welcome's with `more` and `total`, or a
  // desiredChunk's with the highest seq and revision this set can carry.
  const firstHead = { ...welcome, more: true, total: parts.length };
  const chunkHead = (seq: number, last: boolean) => ({
    type: 'desiredChunk' as const,
    revision: envelope.revision,
    seq,
    last,
  });
  const overhead =
    Math.max(
      utf8Length(JSON.stringify(firstHead)),
      utf8Length(JSON.stringify(chunkHead(parts.length, false))),
    ) + utf8Length(',"attachments":[]');
  const budget = chunkBytes - overhead;
  const groups: number[][] = [];
  let current: number[] = [];
  let currentBytes = 0;
  for (let i = 0; i < parts.length; i++) {
    if (sizes[i] > budget) {
      return {
        ok: false,
        error: `attachment ${attachments[i].id} is ${sizes[i]} bytes, more than a ${chunkBytes}-byte chunk can carry`,
      };
    }
    // A comma separates it from the one before.
    const add = sizes[i] + (current.length ? 1 : 0);
    if (
      current.length &&
      (currentBytes + add > budget || current.length >= chunkAttachments)
    ) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    currentBytes += sizes[i] + (current.length ? 1 : 0);
    current.push(i);
  }
  if (current.length || groups.length === 0) groups.push(current);

  const frames = groups.map((g, n) =>
    frameText(
      n === 0 ? firstHead : chunkHead(n, n === groups.length - 1),
      g.map(i => parts[i]),
    ),
  );
  return {
    ok: true,
    frames,
    maxFrameBytes: Math.max(...frames.map(utf8Length)),
  };
}

export type AssemblerResult =
  | { state: 'complete'; welcome: WelcomeMessage }
  | { state: 'pending' }
  | { state: 'error'; error: string };

/**
 * The agent's half: takes `welcome` and `desiredChunk` messages in the order received
 * and hands back a welcome only when its set is complete. A partial set is never handed
 * out, since applying it would stop every attachment missing from it; any break in the
 * sequence is an error (the caller closes the connection and gets a fresh welcome), and
 * `reset()` on disconnect drops what was gathered.
 */
export class DesiredSetAssembler {
  private pending:
    | {
        welcome: WelcomeMessage;
        attachments: DesiredAttachment[];
        total: number;
        nextSeq: number;
      }
    | undefined;

  constructor(
    private readonly maxAttachments: number = AGENT_PROTOCOL_LIMITS.maxDesiredAttachments,
  ) {}

  /** A chunked set is being received: nothing but its chunks may come now. */
  get inProgress(): boolean {
    return this.pending !== undefined;
  }

  /** Attachments gathered so far of the set in progress (0 without one). */
  get gathered(): number {
    return this.pending?.attachments.length ?? 0;
  }

  reset(): void {
    this.pending = undefined;
  }

  accept(message: WelcomeMessage | DesiredChunkMessage): AssemblerResult {
    if (message.type === 'welcome') {
      if (this.pending) {
        return this.fail(
          `a welcome arrived while desired set revision ${this.pending.welcome.revision} was incomplete (${this.pending.attachments.length} of ${this.pending.total})`,
        );
      }
      if (!message.more) {
        if (message.total !== undefined)
          return this.fail('welcome has total without more');
        return { state: 'complete', welcome: message };
      }
      const total = message.total;
      if (total === undefined)
        return this.fail('a welcome with more must say the total');
      if (total > this.maxAttachments)
        return this.fail(
          `desired set of ${total} attachments exceeds this agent's limit of ${this.maxAttachments}`,
        );
      if (message.attachments.length > total)
        return this.fail(
          `welcome carries ${message.attachments.length} attachments, more than its total ${total}`,
        );
      const { more: _more, total: _total, ...welcome } = message;
      this.pending = {
        welcome: { ...welcome, attachments: [] },
        attachments: [...message.attachments],
        total,
        nextSeq: 1,
      };
      return { state: 'pending' };
    }
    const p = this.pending;
    if (!p)
      return this.fail(
        `desiredChunk ${message.seq} arrived without a welcome announcing more`,
      );
    if (message.revision !== p.welcome.revision)
      return this.fail(
        `desiredChunk of revision ${message.revision} inside the set of revision ${p.welcome.revision}`,
      );
    if (message.seq !== p.nextSeq)
      return this.fail(
        `desiredChunk ${message.seq} arrived where ${p.nextSeq} was due`,
      );
    if (p.attachments.length + message.attachments.length > p.total)
      return this.fail(
        `desired set revision ${p.welcome.revision} grew past its total ${p.total}`,
      );
    for (const a of message.attachments) p.attachments.push(a);
    p.nextSeq += 1;
    if (!message.last) return { state: 'pending' };
    if (p.attachments.length !== p.total)
      return this.fail(
        `desired set revision ${p.welcome.revision} ended with ${p.attachments.length} of ${p.total} attachments`,
      );
    this.pending = undefined;
    return {
      state: 'complete',
      welcome: { ...p.welcome, attachments: p.attachments },
    };
  }

  private fail(error: string): AssemblerResult {
    this.pending = undefined;
    return { state: 'error', error };
  }
}
