import http from 'node:http';

/**
 * One HTTP request to 127.0.0.1:port sent from `localAddress` (any 127.0.0.0/8 address
 * works on Linux loopback), so tests can play pods with distinct IPs.
 */
export function httpFrom(
  localAddress: string,
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = body !== undefined
    ? { 'Content-Type': 'application/json' }
    : {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        localAddress,
        headers,
        agent: false,
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
