import { classifyInjectError } from './injectErrors';

const pod = { namespace: 'locked', name: 'web-1' };

describe('classifyInjectError', () => {
  it.each([
    [
      'PodSecurity (403 from admission)',
      {
        status: 403,
        body: {
          kind: 'Status',
          reason: 'Forbidden',
          message:
            'pods "web-1" is forbidden: violates PodSecurity "restricted:latest": unrestricted capabilities (container "spider-a" must set securityContext.capabilities.drop=["ALL"])',
        },
      },
      'rejected',
      'PodSecurityRejected',
    ],
    [
      'PodSecurity (422, as text)',
      {
        status: 422,
        body: '{"message":"violates PodSecurity \\"baseline:latest\\": non-default capabilities"}',
      },
      'rejected',
      'PodSecurityRejected',
    ],
    [
      'RBAC',
      {
        status: 403,
        body: {
          message:
            'pods "web-1" is forbidden: User "system:serviceaccount:x:y" cannot patch resource "pods/ephemeralcontainers"',
        },
      },
      'rejected',
      'Forbidden',
    ],
    [
      'subresource missing',
      {
        status: 404,
        body: {
          message: 'the server could not find the requested resource',
          details: {},
        },
      },
      'rejected',
      'EphemeralContainersDisabled',
    ],
    [
      'pod deleted',
      {
        status: 404,
        body: {
          message: 'pods "web-1" not found',
          details: { name: 'web-1', kind: 'pods' },
        },
      },
      'podGone',
      undefined,
    ],
    [
      'already exists (409)',
      {
        status: 409,
        body: { message: 'ephemeral container "spider-a" already exists' },
      },
      'exists',
      undefined,
    ],
    [
      'existing container differs (422)',
      {
        status: 422,
        body: {
          message:
            'Pod "web-1" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "spider-a" may not be changed',
        },
      },
      'exists',
      undefined,
    ],
    [
      'duplicate (422)',
      {
        status: 422,
        body: {
          message:
            'spec.ephemeralContainers[1].name: Duplicate value: "spider-a"',
        },
      },
      'exists',
      undefined,
    ],
    [
      'other validation error',
      {
        status: 422,
        body: { message: 'spec.ephemeralContainers[0].image: Required value' },
      },
      'rejected',
      'InjectionFailed',
    ],
    [
      'write conflict (409)',
      {
        status: 409,
        body: {
          reason: 'Conflict',
          message:
            'Operation cannot be fulfilled on pods "web-1": the object has been modified; please apply your changes to the latest version and try again',
        },
      },
      'transient',
      undefined,
    ],
    [
      'throttled',
      { status: 429, body: { message: 'too many requests' } },
      'transient',
      undefined,
    ],
    [
      'server error',
      { status: 503, body: 'unavailable' },
      'transient',
      undefined,
    ],
    ['network', { message: 'ECONNREFUSED' }, 'transient', undefined],
  ])('%s', (_n, err, kind, reason) => {
    const out = classifyInjectError(err, pod);
    expect(out.kind).toBe(kind);
    // Outcomes without a reason (exists, podGone, transient) have none to compare.
    expect((out as any).reason).toBe(reason);
    // Outcomes that carry a message explain themselves in more than a few words.
    const messageLength = 'message' in out ? out.message.length : undefined;
    expect(messageLength === undefined || messageLength > 20).toBe(true);
  });

  it('names the namespace and the missing permission in plain words', () => {
    const out = classifyInjectError(
      { status: 403, body: { message: 'cannot patch' } },
      pod,
    ) as any;
    expect(out.message).toMatch(
      /namespace "locked".*"patch" on pods\/ephemeralcontainers/,
    );
  });
});
