import {
  AGENT_PROTOCOL_LIMITS,
  backendMessageSchema,
  desiredAttachmentSchema,
  DesiredAttachment,
  parseProtocolMessage,
  WelcomeMessage,
} from './v1';
import {
  DesiredSetAssembler,
  utf8Length,
  welcomeFrames,
  WelcomeEnvelope,
} from './desiredChunks';

const envelope: WelcomeEnvelope = {
  protocol: 1,
  controllerId: 'c-1',
  revision: 42,
  features: ['traffic', 'chunkedWelcome'],
};

/** An attachment of about `envBytes` of environment (32 entries, as the REST API allows). */
function attachment(i: number, envBytes = 32 * 1024): DesiredAttachment {
  const per = Math.floor(envBytes / 32);
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    target: { namespace: 'shop', kind: 'Deployment', name: `w-${i}` },
    whisperer: {
      id: 'w-1',
      name: 'large',
      image: 'spider/whisperer:1',
      captureFilter: 'tcp port 80',
      env: Object.fromEntries(
        Array.from({ length: 32 }, (_, k) => [
          `E_${k}`,
          'x'.repeat(Math.min(per, 1024)),
        ]),
      ),
    },
    expiresAt: null,
  };
}

function parseAll(frames: string[]) {
  return frames.map(f => {
    const parsed = parseProtocolMessage(backendMessageSchema, f);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.message;
  });
}

function assemble(frames: string[]) {
  const assembler = new DesiredSetAssembler();
  const results = parseAll(frames).map(m => {
    if (m.type !== 'welcome' && m.type !== 'desiredChunk')
      throw new Error(`unexpected ${m.type}`);
    return assembler.accept(m);
  });
  return { assembler, results };
}

describe('utf8Length', () => {
  it.each(['', 'abc', 'é', '€', '😀', 'a😀é€', '\ud800'])(
    'agrees with Buffer for %j',
    text => expect(utf8Length(text)).toBe(Buffer.byteLength(text)),
  );
});

describe('welcomeFrames', () => {
  it('sends a set that fits as one plain welcome, to old and new agents alike', () => {
    const set = [attachment(1), attachment(2)];
    for (const chunked of [false, true]) {
      const r = welcomeFrames(envelope, set, { chunked });
      if (!r.ok) throw new Error(r.error);
      expect(r.frames).toHaveLength(1);
      const [m] = parseAll(r.frames) as WelcomeMessage[];
      expect(m).toEqual({ type: 'welcome', ...envelope, attachments: set });
      expect(m.more).toBeUndefined();
    }
  });

  it('cuts 2,000 large attachments into chunks under the chunk cap, reassembled whole and in order', () => {
    const set = Array.from({ length: 2000 }, (_, i) => attachment(i));
    const r = welcomeFrames(envelope, set, { chunked: true });
    if (!r.ok) throw new Error(r.error);
    // About 66 MB in 1 MiB frames.
    expect(r.frames.length).toBeGreaterThan(60);
    for (const f of r.frames)
      expect(Buffer.byteLength(f)).toBeLessThanOrEqual(
        AGENT_PROTOCOL_LIMITS.desiredChunkBytes,
      );
    expect(r.maxFrameBytes).toBe(
      Math.max(...r.frames.map(f => Buffer.byteLength(f))),
    );
    const messages = parseAll(r.frames);
    expect(messages[0]).toMatchObject({ type: 'welcome', more: true });
    expect((messages[0] as WelcomeMessage).total).toBe(2000);
    expect(messages.slice(1).map(m => m.type)).toEqual(
      Array(messages.length - 1).fill('desiredChunk'),
    );
    const { results } = assemble(r.frames);
    // Nothing complete until the last frame.
    expect(results.slice(0, -1).every(x => x.state === 'pending')).toBe(true);
    const last = results[results.length - 1];
    if (last.state !== 'complete') throw new Error(JSON.stringify(last));
    expect(last.welcome.attachments.map(a => a.id)).toEqual(set.map(a => a.id));
    expect(last.welcome.attachments).toEqual(set);
    expect(last.welcome).not.toHaveProperty('more');
    expect(last.welcome).not.toHaveProperty('total');
    expect(last.welcome.revision).toBe(42);
  });

  it('honours the per-frame attachment count as well as bytes', () => {
    const set = Array.from({ length: 25 }, (_, i) => attachment(i, 0));
    const r = welcomeFrames(envelope, set, {
      chunked: true,
      chunkAttachments: 10,
    });
    if (!r.ok) throw new Error(r.error);
    expect(parseAll(r.frames).map(m => (m as any).attachments.length)).toEqual([
      10, 10, 5,
    ]);
  });

  it('keeps every frame under any chunk size, for many set shapes', () => {
    for (const chunkBytes of [40_000, 100_000, 333_333]) {
      for (const n of [1, 2, 3, 17, 40]) {
        const set = Array.from({ length: n }, (_, i) =>
          attachment(i, (i * 7919) % 30_000),
        );
        const r = welcomeFrames(envelope, set, { chunked: true, chunkBytes });
        if (!r.ok) throw new Error(r.error);
        for (const f of r.frames)
          expect(Buffer.byteLength(f)).toBeLessThanOrEqual(chunkBytes);
        const { results } = assemble(r.frames);
        expect(results[results.length - 1]).toEqual({
          state: 'complete',
          welcome: { type: 'welcome', ...envelope, attachments: set },
        });
      }
    }
  });

  it('refuses to build a too-big single welcome for an agent without chunkedWelcome', () => {
    const set = Array.from({ length: 200 }, (_, i) => attachment(i));
    const r = welcomeFrames(envelope, set, { chunked: false });
    expect(r).toEqual({
      ok: false,
      error: expect.stringMatching(
        new RegExp(
          `^the desired set \\(200 attachments, \\d+ bytes\\) does not fit one ${AGENT_PROTOCOL_LIMITS.maxMessageBytes}-byte frame and the agent did not announce chunkedWelcome; upgrade the agent$`,
        ),
      ),
    });
  });

  it('fits the largest attachment the schema allows (worst-case JSON escaping) in one chunk', () => {
    // Control characters escape to six bytes each (\u0001); the schema does not forbid them.
    const worst = (n: number) => '\u0001'.repeat(n);
    const big: DesiredAttachment = {
      id: worst(64),
      target: {
        namespace: 'n'.repeat(63),
        kind: 'Deployment',
        name: 'a'.repeat(253),
      },
      whisperer: {
        id: worst(64),
        name: worst(200),
        image: `r/${'a'.repeat(510)}`,
        captureFilter: worst(1024),
        env: Object.fromEntries(
          Array.from(
            { length: AGENT_PROTOCOL_LIMITS.desiredEnvEntries },
            (_, k) => [`${k}`.padStart(64, '\u0001'), worst(1024)],
          ),
        ),
      },
      expiresAt: worst(40),
    };
    expect(desiredAttachmentSchema.safeParse(big).success).toBe(true);
    const r = welcomeFrames(envelope, [big, big, big, big], {
      chunked: true,
    });
    if (!r.ok) throw new Error(r.error);
    expect(r.frames.length).toBeGreaterThan(1);
    expect(r.maxFrameBytes).toBeLessThanOrEqual(
      AGENT_PROTOCOL_LIMITS.desiredChunkBytes,
    );
  });

  it('says which attachment cannot fit a chunk', () => {
    const r = welcomeFrames(envelope, [attachment(1), attachment(2)], {
      chunked: true,
      chunkBytes: 20_000,
    });
    expect(r).toEqual({
      ok: false,
      error: expect.stringMatching(
        /^attachment 00000000-0000-4000-8000-000000000001 is \d+ bytes, more than a 20000-byte chunk can carry$/,
      ),
    });
  });

  it('refuses an attachment with more environment entries than a chunk is sized for', () => {
    const a = attachment(1, 0);
    a.whisperer.env = Object.fromEntries(
      Array.from(
        { length: AGENT_PROTOCOL_LIMITS.desiredEnvEntries + 1 },
        (_, k) => [`E${k}`, ''],
      ),
    );
    expect(desiredAttachmentSchema.safeParse(a).success).toBe(false);
  });
});

describe('DesiredSetAssembler', () => {
  const chunked = () => {
    const set = Array.from({ length: 9 }, (_, i) => attachment(i, 3000));
    const r = welcomeFrames(envelope, set, {
      chunked: true,
      chunkBytes: 8000,
    });
    if (!r.ok) throw new Error(r.error);
    const messages = parseAll(r.frames) as any[];
    expect(messages.length).toBeGreaterThanOrEqual(3);
    return { set, messages };
  };

  it('drops a partial set on reset (an interrupted welcome applies nothing) and takes the next whole one', () => {
    const { set, messages } = chunked();
    const a = new DesiredSetAssembler();
    expect(a.accept(messages[0]).state).toBe('pending');
    expect(a.accept(messages[1]).state).toBe('pending');
    expect(a.inProgress).toBe(true);
    expect(a.gathered).toBeGreaterThan(0);
    a.reset();
    expect(a.inProgress).toBe(false);
    // A chunk of the abandoned set after the reset is an error, not a continuation.
    expect(a.accept(messages[2]).state).toBe('error');
    const results = messages.map(m => a.accept(m));
    expect(results[results.length - 1]).toEqual({
      state: 'complete',
      welcome: { type: 'welcome', ...envelope, attachments: set },
    });
  });

  it.each([
    [
      'a chunk without a welcome',
      (m: any[]) => [m[1]],
      /arrived without a welcome/,
    ],
    ['a skipped chunk', (m: any[]) => [m[0], m[2]], /2 arrived where 1/],
    ['a repeated chunk', (m: any[]) => [m[0], m[1], m[1]], /1 arrived where 2/],
    [
      'a chunk of another revision',
      (m: any[]) => [m[0], { ...m[1], revision: 41 }],
      /revision 41 inside the set of revision 42/,
    ],
    [
      'a welcome before the set was complete',
      (m: any[]) => [
        m[0],
        m[1],
        { ...m[0], more: undefined, total: undefined },
      ],
      /welcome arrived while desired set revision 42 was incomplete/,
    ],
    [
      'a last chunk that leaves the set short',
      (m: any[]) => [m[0], { ...m[1], last: true }],
      /ended with \d+ of 9/,
    ],
    [
      'more attachments than the total',
      (m: any[]) => [{ ...m[0], total: 1 }, m[1]],
      /grew past its total 1|more than its total 1/,
    ],
    [
      'a welcome with more but no total',
      (m: any[]) => [{ ...m[0], total: undefined }],
      /must say the total/,
    ],
    [
      'a total without more',
      (m: any[]) => [{ ...m[0], more: undefined }],
      /total without more/,
    ],
  ])('refuses %s and keeps nothing of it', (_what, pick, error) => {
    const { messages } = chunked();
    const a = new DesiredSetAssembler();
    const results = pick(messages).map(m => a.accept(m));
    const firstError = results.find(r => r.state === 'error');
    expect(firstError).toEqual({
      state: 'error',
      error: expect.stringMatching(error),
    });
    expect(results.some(r => r.state === 'complete')).toBe(false);
    expect(a.inProgress).toBe(false);
  });

  it('refuses a set larger than its limit before gathering any of it', () => {
    const { messages } = chunked();
    const a = new DesiredSetAssembler(5);
    expect(a.accept(messages[0])).toEqual({
      state: 'error',
      error: "desired set of 9 attachments exceeds this agent's limit of 5",
    });
    expect(a.inProgress).toBe(false);
  });
});
