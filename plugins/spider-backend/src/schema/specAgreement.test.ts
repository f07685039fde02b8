import {
  ATTACHMENT_STATUSES,
  capturedExchangeSchema,
  CONTROLLER_RIGHTS,
  createAttachmentRequestSchema,
  createControllerRequestSchema,
  createWhispererRequestSchema,
  endpointSchema,
  EXCHANGE_DIRECTIONS,
  EXCHANGE_ERRORS,
  EXCHANGE_PROTOCOLS,
  grantSchema,
  INSTANCE_REASONS,
  INSTANCE_STATES,
  installQuerySchema,
  putSharesRequestSchema,
  updateControllerRequestSchema,
  updateWhispererRequestSchema,
  WORKLOAD_KINDS,
  workloadRefSchema,
} from '@spider/backstage-plugin-spider-common';
import { z } from 'zod';
import { spec } from './openapi/generated';

// The spec and spider-common's zod schemas both list the API's enums and body fields:
// the validated router refuses by the first, the handlers parse with the second. These
// tests fail as soon as one changes without the other.

type Schema = {
  $ref?: string;
  enum?: readonly unknown[];
  properties?: Record<string, Schema>;
  additionalProperties?: unknown;
  allOf?: readonly Schema[];
  items?: Schema;
};
const schemas = spec.components.schemas as unknown as Record<string, Schema>;

function resolve(schema: Schema): Schema {
  return schema.$ref ? resolve(schemas[schema.$ref.split('/').pop()!]) : schema;
}

/** The property names an object schema allows, across its allOf branches. */
function propertyNames(schema: Schema): string[] {
  const s = resolve(schema);
  const own = Object.keys(s.properties ?? {});
  return [...own, ...(s.allOf ?? []).flatMap(propertyNames)].sort();
}

/** Whether every branch that names properties also refuses the others. */
function isClosed(schema: Schema): boolean {
  const s = resolve(schema);
  const branches = [s, ...(s.allOf ?? []).map(resolve)].filter(
    b => b.properties,
  );
  return (
    branches.length > 0 && branches.every(b => b.additionalProperties === false)
  );
}

const enumOf = (schema: Schema) => [...(resolve(schema).enum ?? [])].sort();
const sorted = (values: readonly unknown[]) => [...values].sort();

describe('openapi.yaml agrees with spider-common', () => {
  it('lists the same enums', () => {
    expect(enumOf(schemas.ControllerRight)).toEqual(sorted(CONTROLLER_RIGHTS));
    expect(enumOf(schemas.WorkloadKind)).toEqual(sorted(WORKLOAD_KINDS));
    expect(enumOf(schemas.AttachmentStatus)).toEqual(
      sorted(ATTACHMENT_STATUSES),
    );
    expect(enumOf(schemas.WhispererInstance.properties!.state)).toEqual(
      sorted(INSTANCE_STATES),
    );
    expect(enumOf(schemas.WhispererInstance.properties!.reason)).toEqual(
      sorted([...INSTANCE_REASONS, null]),
    );
    expect(enumOf(schemas.InstallInstructions.properties!.format)).toEqual(
      sorted(installQuerySchema.shape.format.unwrap().options),
    );
    const exchange = schemas.StoredExchange.properties!;
    expect(enumOf(exchange.protocol)).toEqual(sorted(EXCHANGE_PROTOCOLS));
    expect(enumOf(exchange.direction)).toEqual(sorted(EXCHANGE_DIRECTIONS));
    expect(enumOf(exchange.error)).toEqual(sorted([...EXCHANGE_ERRORS, null]));
  });

  it('lists the same enums in query parameters', () => {
    const parameters = spec.components.parameters as unknown as Record<
      string,
      { schema: Schema }
    >;
    expect(enumOf(parameters.direction.schema)).toEqual(
      sorted(EXCHANGE_DIRECTIONS),
    );
    const install = spec.paths['/controllers/{id}/install'].get.parameters;
    const format = install.find(p => p.name === 'format')!;
    expect(enumOf(format.schema as Schema)).toEqual(
      sorted(installQuerySchema.shape.format.unwrap().options),
    );
  });

  // The typed client (generated from the spec) returns these as spider-common's types;
  // tsc checks the shapes, this the field lists of the captured exchange.
  it('StoredExchange names the captured exchange and what the store adds', () => {
    const exchange = schemas.StoredExchange;
    expect(isClosed(exchange)).toBe(true);
    expect(propertyNames(exchange)).toEqual(
      [
        ...Object.keys(capturedExchangeSchema.shape),
        'controllerId',
        'storedAt',
        'target',
      ].sort(),
    );
    const request = exchange.properties!.request;
    expect(propertyNames(request)).toEqual(
      Object.keys(capturedExchangeSchema.shape.request.shape).sort(),
    );
    expect(propertyNames(schemas.ExchangeEndpoint)).toEqual(
      Object.keys(endpointSchema.shape).sort(),
    );
  });

  // A body schema that is strict in zod is closed in the spec (so the validated router
  // refuses unknown fields with 400) and names exactly the same fields.
  it.each([
    ['CreateControllerRequest', createControllerRequestSchema],
    ['UpdateControllerRequest', updateControllerRequestSchema],
    ['CreateWhispererRequest', createWhispererRequestSchema],
    ['UpdateWhispererRequest', updateWhispererRequestSchema],
    ['CreateAttachmentRequest', createAttachmentRequestSchema],
    ['WorkloadRef', workloadRefSchema],
    ['Grant', grantSchema],
    ['GrantList', putSharesRequestSchema],
  ] as const)('%s is closed and has the zod fields', (name, zod) => {
    const schema = schemas[name];
    expect(isClosed(schema)).toBe(true);
    expect(propertyNames(schema)).toEqual(
      Object.keys((zod as z.ZodObject).shape).sort(),
    );
  });
});
