import { startControls, TestAgent } from './startControls';

jest.setTimeout(60_000);

describe('startControls', () => {
  it('serves the REST API and agent socket, and survives a restart on the same port', async () => {
    const controls = await startControls();
    try {
      const { controllerId, token } = await controls.seed();
      const agent = new TestAgent({ url: controls.agentUrl, token });
      await agent.connect();
      expect(
        (
          await controls
            .as('user:default/owner')
            .get(`/controllers/${controllerId}`)
        ).body.connected,
      ).toBe(true);
      agent.close();
      await controls.restart();
      const again = new TestAgent({ url: controls.agentUrl, token });
      await again.connect();
      again.close();
    } finally {
      await controls.close();
    }
  });
});
