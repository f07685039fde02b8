import express from 'express';
import { LoggerService } from '@backstage/backend-plugin-api';

/**
 * Returns a wait for the response to take more data, or be gone. One 'drain' listener
 * per response, not one per wait: the compression middleware forwards `res.on('drain')`
 * to its gzip stream but not `res.off`/`once`'s removal, so listeners piled up there.
 */
function drainWaiter(res: express.Response): () => Promise<void> {
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  res.on('drain', notify);
  res.on('close', notify);
  return () =>
    new Promise(resolve => {
      if (res.destroyed) resolve();
      else wake = resolve;
    });
}

/**
 * Streams a HAR export (README "Traffic API") into the response: the routes themselves
 * are registered in router.ts on the router generated from the spec, which validated the
 * request before this runs; TrafficService produced the chunks.
 */
export async function streamHar(
  res: express.Response,
  options: {
    logger: LoggerService;
    attachmentId: string;
    fileName: string;
    chunks: AsyncGenerator<string>;
  },
): Promise<void> {
  const { logger, attachmentId, fileName, chunks } = options;
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  // The first chunk is read before any header goes out, so a failing store still gets
  // a proper error response; after that the file streams as the store pages come.
  const first = await chunks.next();
  res.status(200);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${fileName}"`);
  res.setHeader('Cache-Control', 'no-store');
  const drained = drainWaiter(res);
  try {
    if (!first.done && !res.write(first.value)) await drained();
    while (!closed && !res.destroyed) {
      const next = await chunks.next();
      if (next.done) break;
      if (!res.write(next.value)) await drained();
    }
    if (closed || res.destroyed) {
      await chunks.return(undefined);
      return;
    }
    res.end();
  } catch (e) {
    // Headers are gone: cut the connection so a partial file cannot pass for a whole one.
    logger.warn(`HAR export of attachment ${attachmentId} failed midway: ${e}`);
    await chunks.return(undefined).catch(() => undefined);
    res.destroy(e as Error);
  }
}
