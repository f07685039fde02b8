import { parseRoute } from './routes';

describe('parseRoute', () => {
  it('parses the four routes', () => {
    expect(parseRoute('GET', '/v1/whisperers/spider-abc')).toEqual({
      ok: true,
      route: { kind: 'config', container: 'spider-abc' },
    });
    expect(
      parseRoute('GET', '/v1/whisperers/spider-abc-2/stop?wait=10'),
    ).toEqual({
      ok: true,
      route: { kind: 'stop', container: 'spider-abc-2', waitSeconds: 10 },
    });
    expect(parseRoute('POST', '/v1/whisperers/spider-abc/state')).toEqual({
      ok: true,
      route: { kind: 'state', container: 'spider-abc' },
    });
    expect(parseRoute('POST', '/v1/whisperers/spider-abc/traffic')).toEqual({
      ok: true,
      route: { kind: 'traffic', container: 'spider-abc' },
    });
  });

  it('caps and validates wait', () => {
    expect(
      parseRoute('GET', '/v1/whisperers/spider-a/stop?wait=9999'),
    ).toMatchObject({ route: { waitSeconds: 60 } });
    expect(parseRoute('GET', '/v1/whisperers/spider-a/stop')).toMatchObject({
      route: { waitSeconds: 30 },
    });
    expect(
      parseRoute('GET', '/v1/whisperers/spider-a/stop?wait=-1'),
    ).toMatchObject({ ok: false, status: 400 });
  });

  it('refuses other paths, methods and container names', () => {
    expect(parseRoute('GET', '/')).toMatchObject({ ok: false, status: 404 });
    expect(parseRoute('GET', '/v1/whisperers/spider-a/other')).toMatchObject({
      ok: false,
      status: 404,
    });
    expect(
      parseRoute('GET', `/v1/whisperers/${'x'.repeat(600)}`),
    ).toMatchObject({ ok: false, status: 404 });
    expect(parseRoute('GET', '/v1/whisperers/nginx')).toMatchObject({
      ok: false,
      status: 400,
    });
    expect(parseRoute('POST', '/v1/whisperers/spider-a')).toMatchObject({
      ok: false,
      status: 405,
    });
    expect(parseRoute('GET', '/v1/whisperers/spider-a/state')).toMatchObject({
      ok: false,
      status: 405,
    });
    expect(parseRoute('PUT', '/v1/whisperers/spider-a/traffic')).toMatchObject({
      ok: false,
      status: 405,
      message: 'use POST',
    });
  });
});
