/**
 * What an agent lacks and what it must drop, from the desired-set ids it was last given
 * and the ids the database holds now. Desired attachments never change once created
 * (a new whisperer or target is a new attachment), so ids are the whole difference.
 */
export function desiredDelta(
  sent: ReadonlySet<string>,
  current: readonly string[],
): { added: string[]; removed: string[] } {
  const now = new Set(current);
  const added = current.filter(id => !sent.has(id));
  const removed: string[] = [];
  for (const id of sent) if (!now.has(id)) removed.push(id);
  return { added: [...new Set(added)], removed };
}
