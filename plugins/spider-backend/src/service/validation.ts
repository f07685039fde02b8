import express from 'express';
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

type SpecSchema = {
  $ref?: string;
  properties?: Record<string, SpecSchema>;
  allOf?: SpecSchema[];
  items?: SpecSchema;
};
type SpecDoc = {
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: {
          content?: Record<string, { schema?: SpecSchema }>;
        };
      }
    >
  >;
  components: { schemas: Record<string, SpecSchema> };
};

const ADDITIONAL = /^request\/body(\/\S*)? must NOT have additional properties/;

/**
 * An error handler for the validated router. Its validator refuses an unknown body field
 * with "request/body must NOT have additional properties", which does not say which field
 * (the name is lost on the way to Backstage's InputError); this finds the fields the spec
 * does not name at that place in the body and says them, and which fields there are.
 */
export function nameUnknownFields(spec: unknown) {
  const doc = spec as SpecDoc;
  const resolve = (s: SpecSchema | undefined): SpecSchema | undefined =>
    s?.$ref ? resolve(doc.components.schemas[s.$ref.split('/').pop()!]) : s;
  const properties = (
    s: SpecSchema | undefined,
  ): Record<string, SpecSchema> => {
    const r = resolve(s);
    return Object.assign(
      {},
      ...(r?.allOf ?? []).map(properties),
      r?.properties ?? {},
    );
  };
  return (
    err: unknown,
    req: express.Request,
    _res: express.Response,
    next: express.NextFunction,
  ) => {
    const match =
      err instanceof InputError ? ADDITIONAL.exec(err.message) : null;
    const route = (req as { openapi?: { openApiRoute?: string } }).openapi
      ?.openApiRoute;
    if (!match || !route) {
      next(err);
      return;
    }
    let schema =
      doc.paths[route]?.[req.method.toLowerCase()]?.requestBody?.content?.[
        'application/json'
      ]?.schema;
    let value: unknown = req.body;
    const segments = (match[1] ?? '').split('/').filter(Boolean);
    for (const segment of segments) {
      const r = resolve(schema);
      schema =
        /^\d+$/.test(segment) && r?.items ? r.items : properties(r)[segment];
      value = (value as Record<string, unknown> | undefined)?.[segment];
    }
    const known = Object.keys(properties(schema));
    const unknown = Object.keys(
      value && typeof value === 'object' ? value : {},
    ).filter(k => !known.includes(k));
    if (!unknown.length) {
      next(err);
      return;
    }
    const where = segments.length ? ` in ${segments.join('.')}` : '';
    next(
      new InputError(
        `Invalid request body: unknown field(s) ${unknown
          .map(k => `"${k}"`)
          .join(', ')}${where}; the fields are ${known.join(', ')}`,
      ),
    );
  };
}
