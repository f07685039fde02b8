import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Per-instance secrets for the whisperer endpoint (contract v1.2). The source IP says
 * which pod is calling; the secret says the caller is the injected instance and not a
 * neighbour that borrowed the address (a hostNetwork pod, anything on the node) or any
 * other process guessing container names.
 *
 * The secret must be a pure function of the pod and container (the injected container
 * spec is re-sent as a no-op, and a restarted agent must still accept the whisperers it
 * injected before), so it is HMAC-SHA256(key, pod UID + container) and never stored.
 * The key is derived from the agent's token, which lives in a Secret and survives agent
 * restarts; rotating the token and restarting the agent changes it (the contract says
 * what happens then).
 */
export class InstanceSecrets {
  private constructor(private readonly key: Buffer) {}

  /** The key from the agent's token: stable across restarts, never the token itself. */
  static fromToken(token: string): InstanceSecrets {
    if (!token) return InstanceSecrets.random();
    return new InstanceSecrets(
      createHmac('sha256', token).update('spider/instance-key/v1').digest(),
    );
  }

  /** A key of this process only (tests; an agent without a token): restarts change it. */
  static random(): InstanceSecrets {
    return new InstanceSecrets(randomBytes(32));
  }

  /** The secret of whisperer `container` in the pod with UID `podUid` (43 base64url chars). */
  secretFor(podUid: string, container: string): string {
    return createHmac('sha256', this.key)
      .update(`${podUid}\n${container}`)
      .digest('base64url');
  }

  /** Whether `presented` is that secret, compared in constant time. */
  verify(
    podUid: string,
    container: string,
    presented: string | undefined,
  ): boolean {
    if (!presented || !podUid) return false;
    const want = Buffer.from(this.secretFor(podUid, container));
    const got = Buffer.from(presented);
    // timingSafeEqual needs equal lengths; the length of a fixed-size secret is no secret.
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/**
 * The secret presented with a request: `Authorization: Bearer <secret>` (what the
 * whisperer sends) or `X-Spider-Instance-Secret: <secret>`. Undefined when absent.
 */
export function presentedSecret(headers: {
  authorization?: string;
  [name: string]: string | string[] | undefined;
}): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  const alt = headers['x-spider-instance-secret'];
  return typeof alt === 'string' && alt ? alt.trim() : undefined;
}
