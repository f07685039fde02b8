import { InputError } from '@backstage/errors';
import { z } from 'zod';

/** Validates with a shared schema; the error names each field and what to fix. */
export function parseInput<T>(
  schema: z.ZodType<T>,
  value: unknown,
  what: string,
): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const details = result.error.issues
    .slice(0, 5)
    .map(issue => {
      const path = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        return `unknown field(s) ${(issue as any).keys
          .map((k: string) => `"${k}"`)
          .join(', ')}${path ? ` in ${path}` : ''}`;
      }
      return `${path || what}: ${issue.message}`;
    })
    .join('; ');
  throw new InputError(`Invalid ${what}: ${details}`);
}
