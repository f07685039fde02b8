import { whispererContainerName } from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from './startSpiderTestBackend';
import { TestAgent, TestTrafficInstance } from './TestAgent';

/**
 * A Controller named `name` with a connected traffic-speaking agent (one team-a/web pod)
 * and an active attachment on team-a/web: what a traffic test starts from. The caller
 * closes the agent.
 */
export async function attachTrafficAgent(
  app: Awaited<ReturnType<typeof startSpiderTestBackend>>,
  owner: string,
  name: string,
): Promise<{ agent: TestAgent; instance: TestTrafficInstance }> {
  const c = await app.as(owner).post('/controllers', { name });
  const w = await app.as(owner).post('/whisperers', {
    name: `http-${name}`,
    captureFilter: 'tcp port 80',
  });
  const agent = new TestAgent({
    url: app.agentUrl,
    token: c.body.token,
    features: ['traffic'],
    workloads: [
      {
        namespace: 'team-a',
        kind: 'Deployment',
        name: 'web',
        labels: {},
        replicas: 1,
        pods: 1,
      },
    ],
  });
  await agent.connect();
  const a = await app.as(owner).post('/attachments', {
    controllerId: c.body.id,
    whispererId: w.body.id,
    target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
  });
  if (a.status !== 201)
    throw new Error(`attach answered ${a.status}: ${JSON.stringify(a.body)}`);
  await agent.waitFor(() => agent.desired.has(a.body.id), 'attach');
  return {
    agent,
    instance: {
      attachmentId: a.body.id,
      namespace: 'team-a',
      pod: 'web-0',
      container: whispererContainerName(a.body.id),
    },
  };
}
