import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isIPv4, isIPv6 } from 'node:net';
import Ajv from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';

/**
 * Validates a HAR document against the HAR 1.2 JSON schema of the `har-schema` package
 * (draft-06), with ajv. The schema's formats are checked for real, not ignored.
 */
function createValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addMetaSchema(draft06);
  ajv.addFormat(
    'date-time',
    v =>
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) &&
      !Number.isNaN(Date.parse(v)),
  );
  ajv.addFormat('ipv4', v => isIPv4(v));
  ajv.addFormat('ipv6', v => isIPv6(v));
  ajv.addFormat('uri', v => {
    try {
      return /^[a-z][a-z0-9+.-]*:/i.test(v) && Boolean(new URL(v));
    } catch {
      return false;
    }
  });
  const dir = dirname(require.resolve('har-schema'));
  for (const file of readdirSync(dir).filter(f => f.endsWith('.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  }
  const validate = ajv.getSchema('har.json#');
  if (!validate) throw new Error('har-schema has no har.json');
  return validate;
}

let validator: ReturnType<typeof createValidator> | undefined;

/** The schema errors of a HAR document, empty when it is valid. */
export function harSchemaErrors(har: unknown): string[] {
  validator ??= createValidator();
  if (validator(har)) return [];
  return (validator.errors ?? []).map(
    e => `${e.instancePath || '/'} ${e.message}`,
  );
}
