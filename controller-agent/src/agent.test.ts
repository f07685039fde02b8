import { whispererEndpoints } from './agent';

describe('whispererEndpoints', () => {
  const log = { warn: jest.fn() };

  it('gives whisperers the Service name and ClusterIP when the chart names the Service', async () => {
    const e = await whispererEndpoints(
      {
        serviceHost: 'localhost',
        pod: { name: 'a', namespace: 'n', ip: '10.0.0.9' },
        endpointPort: 8081,
      },
      { endpoint: 40001, dns: 40002 },
      log,
    );
    expect(e).toEqual({
      agentUrl: 'http://localhost:8081',
      dns: '127.0.0.1:53',
    });
  });

  it('falls back to the pod IP and the bound ports when the name does not resolve', async () => {
    const e = await whispererEndpoints(
      {
        serviceHost: 'spider-agent.nowhere.invalid',
        pod: { name: 'a', namespace: 'n', ip: '10.0.0.9' },
        endpointPort: 8081,
      },
      { endpoint: 40001, dns: 40002 },
      log,
    );
    expect(e).toEqual({
      agentUrl: 'http://10.0.0.9:40001',
      dns: '10.0.0.9:40002',
    });
    expect(log.warn).toHaveBeenCalledWith(
      expect.stringMatching(/does not resolve/),
    );
  });
});
