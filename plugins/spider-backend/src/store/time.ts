/** PostgreSQL hands bigint columns back as strings; SQLite as numbers. */
export function msOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

export function isoOrNull(value: unknown): string | null {
  const ms = msOrNull(value);
  return ms === null ? null : new Date(ms).toISOString();
}

export function iso(value: unknown): string {
  return isoOrNull(value) ?? new Date(0).toISOString();
}
