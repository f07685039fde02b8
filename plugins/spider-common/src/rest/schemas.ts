import { z } from 'zod';
import {
  imageSchema,
  namespaceNameSchema,
  objectNameSchema,
  workloadKindSchema,
  workloadRefSchema,
} from '../model/kubernetes';
import { ATTACHMENT_STATUSES, CONTROLLER_RIGHTS } from '../model/resources';
import { parseDuration } from '../model/duration';

/** Caps on what the REST API accepts; bodies larger than this are refused with 413. */
export const REST_LIMITS = {
  bodyBytes: 64 * 1024,
  nameLength: 100,
  descriptionLength: 1000,
  captureFilterLength: 1024,
  envEntries: 32,
  grants: 200,
  namespacesPerGrant: 500,
  pageSize: 500,
} as const;

const displayName = z
  .string()
  .trim()
  .min(1, { message: 'must not be empty' })
  .max(REST_LIMITS.nameLength)
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .regex(/^[^\u0000-\u001f]*$/, {
    message: 'must not contain control characters',
  });

const description = z.string().max(REST_LIMITS.descriptionLength);

export const durationSchema = z
  .string()
  .max(40)
  .refine(v => parseDuration(v) !== undefined, {
    message:
      'must be an ISO-8601 duration such as PT30M, PT2H or P1D (weeks, days, hours, minutes, seconds)',
  });

export const idSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    message: 'must be an id as returned by the API',
  });

export const entityRefSchema = z
  .string()
  .max(400)
  .regex(/^[a-zA-Z]+:[a-zA-Z0-9._-]+\/[a-zA-Z0-9._-]+$/, {
    message:
      'must be a full entity reference such as component:default/my-service',
  });

export const principalSchema = z
  .string()
  .max(400)
  .regex(/^(user|group):[a-zA-Z0-9._-]+\/[a-zA-Z0-9._-]+$/, {
    message: 'must be user:<namespace>/<name> or group:<namespace>/<name>',
  });

export const createControllerRequestSchema = z.strictObject({
  name: displayName,
  description: description.optional(),
});
export type CreateControllerRequest = z.infer<
  typeof createControllerRequestSchema
>;

export const updateControllerRequestSchema = z
  .strictObject({
    name: displayName.optional(),
    description: description.optional(),
  })
  .refine(v => v.name !== undefined || v.description !== undefined, {
    message: 'give at least one of name, description',
  });
export type UpdateControllerRequest = z.infer<
  typeof updateControllerRequestSchema
>;

const envSchema = z
  .record(
    z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, {
      message: 'environment names are upper-case letters, digits and _',
    }),
    z.string().max(1024),
  )
  .refine(e => Object.keys(e).length <= REST_LIMITS.envEntries, {
    message: `at most ${REST_LIMITS.envEntries} environment entries`,
  });

const whispererFields = {
  name: displayName,
  description: description.optional(),
  image: imageSchema.nullable().optional(),
  captureFilter: z
    .string()
    .max(REST_LIMITS.captureFilterLength)
    // eslint-disable-next-line no-control-regex -- control characters are what is refused
    .regex(/^[^\u0000-\u001f]*$/, { message: 'must be a single line' })
    .optional(),
  timeToLive: durationSchema.nullable().optional(),
  env: envSchema.optional(),
};

export const createWhispererRequestSchema = z.strictObject(whispererFields);
export type CreateWhispererRequest = z.infer<
  typeof createWhispererRequestSchema
>;

export const updateWhispererRequestSchema = z
  .strictObject({
    ...whispererFields,
    name: displayName.optional(),
  })
  .refine(v => Object.keys(v).length > 0, {
    message: 'give at least one field to change',
  });
export type UpdateWhispererRequest = z.infer<
  typeof updateWhispererRequestSchema
>;

export const createAttachmentRequestSchema = z.strictObject({
  controllerId: idSchema,
  whispererId: idSchema,
  target: workloadRefSchema,
  /** Entity the attach was made from, kept for filtering (optional). */
  entityRef: entityRefSchema.optional(),
});
export type CreateAttachmentRequest = z.infer<
  typeof createAttachmentRequestSchema
>;

export const grantSchema = z.strictObject({
  principal: principalSchema,
  rights: z
    .array(z.enum(CONTROLLER_RIGHTS))
    .min(1, { message: 'a grant needs at least one right' })
    .max(CONTROLLER_RIGHTS.length),
  namespaces: z.union([
    z.literal('*'),
    z
      .array(namespaceNameSchema)
      .min(1, { message: 'give at least one namespace, or "*" for all' })
      .max(REST_LIMITS.namespacesPerGrant),
  ]),
});

export const putSharesRequestSchema = z
  .strictObject({
    items: z.array(grantSchema).max(REST_LIMITS.grants),
  })
  .refine(v => new Set(v.items.map(g => g.principal)).size === v.items.length, {
    message: 'each principal may appear only once',
  });
export type PutSharesRequest = z.infer<typeof putSharesRequestSchema>;

const pageQuery = {
  limit: z.coerce.number().int().min(1).max(REST_LIMITS.pageSize).optional(),
  cursor: z.string().max(200).optional(),
};

export const listAttachmentsQuerySchema = z.strictObject({
  controllerId: idSchema.optional(),
  whispererId: idSchema.optional(),
  status: z
    .union([
      z.enum(ATTACHMENT_STATUSES),
      z.array(z.enum(ATTACHMENT_STATUSES)).max(ATTACHMENT_STATUSES.length),
    ])
    .optional(),
  entityRef: entityRefSchema.optional(),
  namespace: namespaceNameSchema.optional(),
  ...pageQuery,
});
export type ListAttachmentsQuery = z.infer<typeof listAttachmentsQuerySchema>;

export const listWorkloadsQuerySchema = z.strictObject({
  namespace: namespaceNameSchema.optional(),
  kind: workloadKindSchema.optional(),
  q: z.string().max(253).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});
export type ListWorkloadsQuery = z.infer<typeof listWorkloadsQuerySchema>;

export const installQuerySchema = z.strictObject({
  format: z.enum(['command', 'values', 'manifest']).default('command'),
  /** Namespace the agent is installed into. */
  namespace: namespaceNameSchema.optional(),
  /** Comma-separated namespaces the agent may act in; empty means all. */
  include: z.string().max(4000).optional(),
  exclude: z.string().max(4000).optional(),
});
export type InstallQuery = z.infer<typeof installQuerySchema>;

export const entityWorkloadsQuerySchema = z.strictObject({
  entityRef: entityRefSchema,
});

export const idParamSchema = z.strictObject({ id: idSchema });

export { namespaceNameSchema, objectNameSchema };
