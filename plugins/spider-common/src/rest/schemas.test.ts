import {
  createAttachmentRequestSchema,
  createWhispererRequestSchema,
  putSharesRequestSchema,
} from './schemas';

const id = '0b7e8c3e-1f2a-4c3d-9e8f-0123456789ab';

describe('REST schemas', () => {
  it('accepts a valid attach', () => {
    expect(
      createAttachmentRequestSchema.safeParse({
        controllerId: id,
        whispererId: id,
        target: { namespace: 'team-b', kind: 'Deployment', name: 'web' },
      }).success,
    ).toBe(true);
  });

  it('refuses unknown fields, bad kinds and invalid Kubernetes names', () => {
    const bad = [
      {
        controllerId: id,
        whispererId: id,
        target: { namespace: 'team-b', kind: 'Deployment', name: 'web' },
        extra: 1,
      },
      {
        controllerId: id,
        whispererId: id,
        target: { namespace: 'Team_B', kind: 'Deployment', name: 'web' },
      },
      {
        controllerId: id,
        whispererId: id,
        target: { namespace: 'team-b', kind: 'Service', name: 'web' },
      },
      {
        controllerId: id,
        whispererId: id,
        target: { namespace: 'team-b', kind: 'Pod', name: '-web' },
      },
      {
        controllerId: 'nope',
        whispererId: id,
        target: { namespace: 'team-b', kind: 'Pod', name: 'web' },
      },
    ];
    for (const body of bad) {
      expect(createAttachmentRequestSchema.safeParse(body).success).toBe(false);
    }
  });

  it('checks whisperer timeToLive as an ISO-8601 duration', () => {
    expect(
      createWhispererRequestSchema.safeParse({ name: 'w', timeToLive: 'PT2M' })
        .success,
    ).toBe(true);
    const r = createWhispererRequestSchema.safeParse({
      name: 'w',
      timeToLive: '2 minutes',
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/ISO-8601/);
  });

  it('refuses duplicate principals in shares', () => {
    const grant = {
      principal: 'group:default/team-b',
      rights: ['use'],
      namespaces: ['team-b'],
    };
    expect(putSharesRequestSchema.safeParse({ items: [grant] }).success).toBe(
      true,
    );
    expect(
      putSharesRequestSchema.safeParse({ items: [grant, grant] }).success,
    ).toBe(false);
    expect(
      putSharesRequestSchema.safeParse({
        items: [{ ...grant, principal: 'component:default/x' }],
      }).success,
    ).toBe(false);
  });
});
