import { createLogger } from './logger';

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, msg and fields', () => {
    const lines: string[] = [];
    const log = createLogger('info', l => lines.push(l)).child({
      component: 'x',
    });
    log.debug('hidden');
    log.info('hello', { pod: 'a/b', err: new Error('boom') });
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({
      level: 'info',
      msg: 'hello',
      component: 'x',
      pod: 'a/b',
      err: { name: 'Error', message: 'boom' },
    });
    expect(new Date(entry.time).toISOString()).toBe(entry.time);
  });
});
