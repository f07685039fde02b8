import { planRetention } from './planRetention';

const limits = {
  maxAgeMs: 86_400_000,
  maxRowsPerAttachment: 100,
  maxTotalBytes: 10_000,
};
const now = new Date('2026-12-02T10:00:00Z');

describe('planRetention', () => {
  it('cuts at now minus the age limit', () => {
    expect(planRetention(limits, now, { attachments: [] })).toEqual({
      cutoffMs: Date.parse('2026-12-01T10:00:00Z'),
      trims: [],
      dropBodyBytes: 0,
      deleteRowBytes: 0,
    });
  });

  it.each([
    [
      'under every limit',
      [{ attachmentId: 'a', rows: 100, bytes: 9_000, bodyBytes: 5_000 }],
      [],
      0,
      0,
    ],
    [
      'over the rows of one attachment',
      [
        { attachmentId: 'a', rows: 150, bytes: 3_000, bodyBytes: 1_500 },
        { attachmentId: 'b', rows: 99, bytes: 1_000, bodyBytes: 0 },
      ],
      [{ attachmentId: 'a', keep: 100, remove: 50 }],
      0,
      0,
    ],
    [
      'over the size, bodies suffice',
      [{ attachmentId: 'a', rows: 10, bytes: 12_000, bodyBytes: 5_000 }],
      [],
      2_000,
      0,
    ],
    [
      'over the size, bodies do not suffice',
      [{ attachmentId: 'a', rows: 10, bytes: 15_000, bodyBytes: 3_000 }],
      [],
      3_000,
      2_000,
    ],
    // Trimming 200 → 100 rows halves a's 16,000 bytes to 8,000 (4,000 of bodies): 2,000 over.
    [
      'rows first, then size on what is left',
      [
        { attachmentId: 'a', rows: 200, bytes: 16_000, bodyBytes: 8_000 },
        { attachmentId: 'b', rows: 10, bytes: 4_000, bodyBytes: 0 },
      ],
      [{ attachmentId: 'a', keep: 100, remove: 100 }],
      2_000,
      0,
    ],
  ])('%s', (_name, attachments, trims, dropBodyBytes, deleteRowBytes) => {
    expect(planRetention(limits, now, { attachments })).toEqual({
      cutoffMs: now.getTime() - limits.maxAgeMs,
      trims,
      dropBodyBytes,
      deleteRowBytes,
    });
  });
});
