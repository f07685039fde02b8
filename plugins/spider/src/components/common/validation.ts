/** Errors of a schema's safeParse, one message per top-level field ('' for the whole). */
export function fieldErrors(result: {
  success: boolean;
  error?: { issues: Array<{ path: PropertyKey[]; message: string }> };
}): Record<string, string> {
  const out: Record<string, string> = {};
  if (result.success || !result.error) return out;
  for (const issue of result.error.issues) {
    const key = issue.path.length ? String(issue.path[0]) : '';
    if (!(key in out)) out[key] = issue.message;
  }
  return out;
}

/** A field error as a sentence: "Name must not be empty". */
export function sentence(label: string, message: string | undefined) {
  if (!message) return undefined;
  if (/^(must|give|a |at most|each)/i.test(message))
    return `${label} ${message}`;
  return message;
}
