import {
  DEFAULT_ALLOWED_WHISPERER_IMAGES,
  imageAllowed,
  ImagePattern,
  parseImagePattern,
  parseImagePatterns,
  parseImageReference,
} from './imageAllowList';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;

function pattern(text: string): ImagePattern {
  const p = parseImagePattern(text);
  if (typeof p === 'string') throw new Error(`${text}: ${p}`);
  return p;
}

describe('imageAllowed', () => {
  it.each([
    // pattern, image, allowed
    [
      'reg.example/spider/whisperer:1.0',
      'reg.example/spider/whisperer:1.0',
      true,
    ],
    [
      'reg.example/spider/whisperer:1.0',
      'reg.example/spider/whisperer:1.1',
      false,
    ],
    ['reg.example/spider/whisperer:1.0', 'reg.example/spider/whisperer', false],
    [
      'reg.example/spider/whisperer:latest',
      'reg.example/spider/whisperer',
      true,
    ],
    [
      'reg.example/spider/whisperer:1.0',
      `reg.example/spider/whisperer:1.0@${DIGEST}`,
      true,
    ],
    [
      'reg.example/spider/whisperer:1.0',
      `reg.example/spider/whisperer@${DIGEST}`,
      false,
    ],
    [
      `reg.example/spider/whisperer@${DIGEST}`,
      `reg.example/spider/whisperer@${DIGEST}`,
      true,
    ],
    [
      `reg.example/spider/whisperer@${DIGEST}`,
      `reg.example/spider/whisperer:1.0@${DIGEST}`,
      true,
    ],
    [
      `reg.example/spider/whisperer@${DIGEST}`,
      `reg.example/spider/whisperer@${OTHER_DIGEST}`,
      false,
    ],
    [
      `reg.example/spider/whisperer@${DIGEST}`,
      'reg.example/spider/whisperer:1.0',
      false,
    ],
    [
      'reg.example/spider/whisperer:*',
      'reg.example/spider/whisperer:2.3',
      true,
    ],
    [
      'reg.example/spider/whisperer:*',
      `reg.example/spider/whisperer@${DIGEST}`,
      true,
    ],
    [
      'reg.example/spider/whisperer:*',
      'reg.example/spider/whisperer-evil:1',
      false,
    ],
    [
      'reg.example/spider/whisperer:*',
      'reg.example/spider/whisperer/sub:1',
      false,
    ],
    ['reg.example/spider/whisperer', 'reg.example/spider/whisperer:9', true],
    ['reg.example/*', 'reg.example/anything/deep/repo:1', true],
    ['reg.example/*', 'reg.example.evil/spider/whisperer:1', false],
    ['reg.example/*', 'evil.example/reg.example/x:1', false],
    ['reg.example/team/*', 'reg.example/team/a:1', true],
    ['reg.example/team/*', 'reg.example/teamx/a:1', false],
    ['reg.example/team/*', 'reg.example/team:1', false],
    [
      'REG.Example:5000/spider/whisperer:1',
      'reg.example:5000/spider/whisperer:1',
      true,
    ],
    [
      'reg.example:5000/spider/whisperer:1',
      'reg.example/spider/whisperer:1',
      false,
    ],
    ['localhost/spider/whisperer:1', 'localhost/spider/whisperer:1', true],
    // No substring tricks: a registry in front is a different image.
    ['spider/whisperer:*', 'evil.example/spider/whisperer:0.1.0', false],
    ['spider/whisperer:*', 'spider/whisperer:0.1.0', true],
    ['spider/whisperer:*', 'spider/whisperer.evil:0.1.0', false],
    ['spider/whisperer:*', 'evilspider/whisperer:0.1.0', false],
    ['spider/whisperer:*', 'spider/whisperer', true],
    // Short names: a single component means library/<name>; no registry ≠ any registry.
    ['busybox:1', 'library/busybox:1', true],
    ['library/busybox:1', 'busybox:1', true],
    ['busybox:1', 'reg.example/busybox:1', false],
    ['reg.example/busybox:1', 'busybox:1', false],
    // Unparseable images are never allowed.
    ['spider/whisperer:*', 'spider/Whisperer:1', false],
    ['spider/whisperer:*', 'spider/whisperer:1 --privileged', false],
    ['spider/whisperer:*', '', false],
  ])('%s allows %s: %s', (p, image, allowed) => {
    expect(imageAllowed(image, [pattern(p)])).toBe(allowed);
  });

  it('allows what any pattern of the list allows, and nothing with an empty list', () => {
    const list = [pattern('a.example/x:1'), pattern('b.example/*')];
    expect(imageAllowed('b.example/y:2', list)).toBe(true);
    expect(imageAllowed('a.example/x:1', list)).toBe(true);
    expect(imageAllowed('a.example/x:2', list)).toBe(false);
    expect(imageAllowed('a.example/x:1', [])).toBe(false);
  });

  it('the default list allows the project whisperer image and nothing else', () => {
    const { patterns, problems } = parseImagePatterns(
      DEFAULT_ALLOWED_WHISPERER_IMAGES,
    );
    expect(problems).toEqual([]);
    expect(imageAllowed('spider/whisperer:0.1.0', patterns)).toBe(true);
    expect(imageAllowed('attacker/whisperer:0.1.0', patterns)).toBe(false);
    expect(imageAllowed('evil.example/spider/whisperer:0.1.0', patterns)).toBe(
      false,
    );
  });
});

describe('parseImagePattern', () => {
  it.each([
    ['*', 'lone *'],
    ['*/*', '* only as the last component'],
    ['reg.example/*:1', 'drop the tag'],
    ['reg.example/sp*der/x', 'lower-case'],
    ['reg.example/x:*@sha256:abc', 'not both'],
    ['reg.example/x@md5', 'not a digest'],
    ['reg.example/x:bad tag', 'spaces'],
    ['reg.example/UPPER:1', 'lower-case'],
    ['', '1 to 512'],
  ])('refuses %s (%s)', (text, why) => {
    const p = parseImagePattern(text);
    expect(typeof p).toBe('string');
    expect(p).toContain(why);
  });

  it('names each bad entry of a list', () => {
    expect(parseImagePatterns(['ok.example/x:1', '*']).problems).toEqual([
      '"*": a lone * would allow every image; name a registry or repository before /*',
    ]);
  });
});

describe('parseImageReference', () => {
  it('normalises registry case and short names', () => {
    expect(parseImageReference('Reg.Example/a/b:1')).toEqual({
      registry: 'reg.example',
      path: ['a', 'b'],
      tag: '1',
      digest: null,
    });
    expect(parseImageReference('busybox')).toEqual({
      registry: null,
      path: ['library', 'busybox'],
      tag: null,
      digest: null,
    });
  });
});
