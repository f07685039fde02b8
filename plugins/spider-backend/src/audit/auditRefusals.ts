import type { ErrorRequestHandler, Handler } from 'express';
import type { HttpAuthService } from '@backstage/backend-plugin-api';
import type { AuditLog } from './AuditLog';

/** Errors that mean "refused": the caller asked for something the API does not do for them. */
const REFUSED: Record<string, number> = {
  InputError: 400,
  AuthenticationError: 401,
  NotAllowedError: 403,
  NotFoundError: 404,
  ConflictError: 409,
};
const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const RESOURCE = /\/(controllers|whisperers|attachments)\/([^/?]+)/;

/** What a refused request aimed at, from its path: `/controllers/:id/shares` → controller :id. */
export function refusedResource(path: string): { type: string; id: string } {
  const m = RESOURCE.exec(path);
  if (!m) return { type: 'request', id: '' };
  return { type: m[1].slice(0, -1), id: decodeURIComponent(m[2]) };
}

/**
 * Audits every refused change (issue 13): mounted after the REST router, it records the
 * refusal and passes the error on untouched, so the answer is the same as without it.
 * Reads are not audited (a 404 on a read is ordinary).
 */
export function auditRefusals(deps: {
  audit: AuditLog;
  httpAuth: HttpAuthService;
  onError?: (error: unknown) => void;
}): Handler {
  const handler: ErrorRequestHandler = (err, req, _res, next) => {
    const status = REFUSED[err?.name];
    if (!status || !CHANGES.has(req.method)) {
      next(err);
      return;
    }
    const record = async () => {
      let actor = 'unknown';
      try {
        const credentials = await deps.httpAuth.credentials(req, {
          allow: ['user'],
        });
        actor = credentials.principal.userEntityRef;
      } catch {
        // unauthenticated: the auditor still records the address
      }
      const resource = refusedResource(req.originalUrl);
      await deps.audit.refused({
        request: req,
        actor,
        resourceType: resource.type,
        resourceId: resource.id,
        status,
        error: err,
      });
    };
    record()
      .catch(e => deps.onError?.(e))
      .finally(() => next(err));
  };
  // httpRouter.use is typed for plain handlers; express sees the four parameters and
  // calls it with the errors of the routers mounted before it (a Router would be skipped).
  return handler as unknown as Handler;
}
