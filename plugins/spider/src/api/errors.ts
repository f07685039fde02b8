import { ResponseError } from '@backstage/errors';

/** Status code of an error from the Controls service, if it has one. */
export function errorStatus(error: unknown): number | undefined {
  if (ResponseError.is(error)) return error.statusCode;
  const code = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * An error from the Controls service in plain words, for people rather than logs:
 * what happened, and when it helps, what to do about it.
 */
export function describeError(error: unknown): string {
  const status = errorStatus(error);
  const serverMessage = ResponseError.is(error)
    ? error.cause?.message
    : (error as Error | undefined)?.message;
  const detail =
    serverMessage && !/^Request failed with \d+/.test(serverMessage)
      ? serverMessage
      : undefined;
  switch (status) {
    case 400:
      return `The request was refused: ${
        detail ?? 'some fields are not valid'
      }.`;
    case 401:
      return 'You are not signed in, or your session has expired. Sign in again.';
    case 403:
      return `You are not allowed to do this${
        detail ? ` (${detail})` : ''
      }. Ask the Controller's owner for access.`;
    case 404:
      return `It no longer exists${detail ? ` (${detail})` : ''}.`;
    case 409:
      return `Conflict: ${detail ?? 'it was changed or already exists'}.`;
    case 413:
      return 'The request is too large.';
    case 429:
      return 'Too many requests; wait a moment and try again.';
    case 503:
      return `The Controller's agent is offline, so the cluster cannot be reached right now${
        detail ? ` (${detail})` : ''
      }. Check that the agent is running and connected.`;
    case 504:
      return "The Controller's agent did not answer in time. Try again; if it keeps happening, check the agent.";
    default:
      if (status && status >= 500)
        return `The Spider service failed (${status})${
          detail ? `: ${detail}` : ''
        }.`;
      if (error instanceof TypeError)
        return 'The Spider service could not be reached. Check your network connection.';
      return detail ?? String((error as Error)?.message ?? error);
  }
}

/**
 * A traffic request's error in plain words. A 404 hides whether the attachment exists
 * (the access rule), so it says both; the rest is {@link describeError}.
 */
export function describeTrafficError(error: unknown): {
  title: string;
  message: string;
} {
  const status = errorStatus(error);
  if (status === 404)
    return {
      title: 'No traffic to show',
      message:
        'It does not exist, or you may not have access to it: traffic is visible to whoever may read its attachment. Ask the owner of the Controller to share its namespace with you.',
    };
  if (status === 503)
    return { title: 'The agent is offline', message: describeError(error) };
  return {
    title: 'Traffic could not be loaded',
    message: describeError(error),
  };
}
