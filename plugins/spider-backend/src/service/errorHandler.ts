import { ErrorRequestHandler } from 'express';
import { serializeError } from '@backstage/errors';

const STATUS_BY_NAME: Record<string, number> = {
  GatewayTimeoutError: 504,
  ServiceUnavailableError: 503,
  PayloadTooLargeError: 413,
};

/**
 * Maps the few errors Backstage's default handler does not know (agent timeouts, body
 * parser failures) to their status, in Backstage's error shape; the rest pass on.
 */
export const spiderErrorHandler: ErrorRequestHandler = (
  err,
  req,
  res,
  next,
) => {
  let status: number | undefined = STATUS_BY_NAME[err?.name];
  let error = err;
  if (err?.type === 'entity.too.large') {
    status = 413;
    error = {
      name: 'PayloadTooLargeError',
      message: `Request body is larger than ${err.limit} bytes`,
    };
  } else if (err?.type === 'entity.parse.failed') {
    status = 400;
    error = { name: 'InputError', message: 'Request body is not valid JSON' };
  } else if (
    err?.type === 'charset.unsupported' ||
    err?.type === 'encoding.unsupported'
  ) {
    status = 415;
    error = { name: 'UnsupportedMediaTypeError', message: err.message };
  }
  if (!status) {
    next(err);
    return;
  }
  res.status(status).json({
    error: serializeError(error, { includeStack: false }),
    request: { method: req.method, url: req.originalUrl },
    response: { statusCode: status },
  });
};
