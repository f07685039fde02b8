// Validates what the whisperer produced against spider-common's zod schemas (the contract
// itself, not a copy): `node schema-check.mts <kind> <file>`, one JSON document per line,
// kind = exchange | batch | state. Exit 1 and the first issues when any line is invalid.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  capturedExchangeSchema,
  captureStatsSchema,
  whispererTrafficBatchSchema,
} from '../../plugins/spider-common/src/traffic/exchange.ts';

const [kind, file] = process.argv.slice(2);
const stateSchema = z.strictObject({
  state: z.enum(['running', 'stopping', 'terminated', 'failed']),
  message: z.string().max(1024).nullable(),
  exitCode: z.number().int().nullable(),
  stats: captureStatsSchema.optional(),
});
const schemas: Record<string, z.ZodType> = {
  exchange: capturedExchangeSchema,
  batch: whispererTrafficBatchSchema,
  state: stateSchema,
};
const schema = schemas[kind];
if (!schema) {
  console.error(`unknown kind ${kind}`);
  process.exit(2);
}
const lines = readFileSync(file, 'utf8')
  .split('\n')
  .filter(l => l.trim() !== '');
let invalid = 0;
for (const line of lines) {
  const result = schema.safeParse(JSON.parse(line));
  if (!result.success) {
    invalid++;
    if (invalid <= 3)
      console.error(
        JSON.stringify(result.error.issues).slice(0, 1000),
        line.slice(0, 300),
      );
  }
}
console.log(`${kind}: ${lines.length} checked, ${invalid} invalid`);
process.exit(invalid ? 1 : 0);
