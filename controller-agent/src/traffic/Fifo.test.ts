import { Fifo } from './Fifo';

describe('Fifo', () => {
  it('keeps order across compaction, puts items back in front, drains', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 5000; i++) q.push(i);
    for (let i = 0; i < 3000; i++) expect(q.shift()).toBe(i);
    expect(q.length).toBe(2000);
    q.unshiftAll([-2, -1]);
    expect(q.peek()).toBe(-2);
    expect(q.shift()).toBe(-2);
    expect(q.shift()).toBe(-1);
    expect(q.shift()).toBe(3000);
    const rest = q.drain();
    expect(rest).toHaveLength(1999);
    expect(rest[0]).toBe(3001);
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });
});
