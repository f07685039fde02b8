import type { DesiredAttachment } from '@spider/backstage-plugin-spider-common';
import { DesiredSet } from './DesiredSet';

const a = (id: string): DesiredAttachment => ({
  id,
  target: { namespace: 'n', kind: 'Deployment', name: 'web' },
  whisperer: { id: 'w', name: 'w', image: null, captureFilter: '', env: {} },
  expiresAt: null,
});

describe('DesiredSet', () => {
  it('welcome replaces the set; missing live ones are stopped as deleted', () => {
    const s = new DesiredSet();
    expect(s.known).toBe(false);
    expect(s.replace(1, [a('x'), a('y')], 0)).toEqual({
      added: ['x', 'y'],
      stopped: [],
    });
    expect(s.replace(2, [a('y'), a('z')], 5)).toEqual({
      added: ['z'],
      stopped: ['x'],
    });
    expect(s.get('x')!.stopped).toEqual({ reason: 'deleted', at: 5 });
    expect(s.live().map(e => e.attachment.id)).toEqual(['y', 'z']);
    expect(s.known).toBe(true);
  });

  it('never revives a stopped attachment (replayed attach, welcome after a local expiry)', () => {
    const s = new DesiredSet();
    s.replace(1, [a('x')], 0);
    expect(s.stop('x', 'expired', 10)).toBe(true);
    expect(s.attach(5, a('x'))).toBe(false);
    s.replace(6, [a('x')], 20);
    expect(s.get('x')!.stopped?.reason).toBe('expired');
    expect(s.stop('x', 'detached', 30)).toBe(false);
  });

  it('ignores messages older than the current revision', () => {
    const s = new DesiredSet();
    s.replace(10, [], 0);
    expect(s.attach(9, a('old'))).toBe(false);
    expect(s.attach(10, a('x'))).toBe(true);
    expect(s.attach(11, a('y'))).toBe(true);
    expect(s.stop('y', 'detached', 1, 10)).toBe(false);
    expect(s.stop('y', 'detached', 1, 12)).toBe(true);
    expect(s.currentRevision).toBe(12);
  });

  it('prunes long-stopped entries', () => {
    const s = new DesiredSet();
    s.replace(1, [a('x'), a('y')], 0);
    s.stop('x', 'detached', 0);
    expect(s.prune(1000, 500)).toEqual(['x']);
    expect(s.all().map(e => e.attachment.id)).toEqual(['y']);
  });
});
