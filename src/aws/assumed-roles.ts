import { type AwsCredentialSet, principalFingerprint } from './credential-set.ts';

/** Temporary credentials, as STS AssumeRole returns them. */
export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** A role session is renewed this long before it expires, so no request is signed with one about to lapse. */
const RENEW_BEFORE_MS = 5 * 60_000;

interface Session {
  identity: Promise<AwsCredentialIdentity>;
  /** Known once AssumeRole has answered. */
  renewAtMs?: number;
}

/**
 * Role sessions shared by every ECR client that acts as the same role for the same principal: one
 * AssumeRole per session lifetime (an hour), not one per client. The registry controller makes a
 * client per token refresh and the import controller one per import cycle, so without this each
 * of them would assume the role again. Concurrent callers share one call; a failure is not kept.
 */
export class AssumedRoleSessions {
  readonly #assume: (set: AwsCredentialSet) => Promise<AwsCredentialIdentity>;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Session>();

  constructor(options: { assume: (set: AwsCredentialSet) => Promise<AwsCredentialIdentity>; now?: () => number }) {
    this.#assume = options.assume;
    this.#now = options.now ?? Date.now;
  }

  /** Credentials of the set's role (the set must name one), from a live session or a new AssumeRole. */
  credentials(set: AwsCredentialSet): Promise<AwsCredentialIdentity> {
    this.#evictDue();
    const key = principalFingerprint(set);
    const existing = this.#sessions.get(key);
    if (existing) return existing.identity;
    const session: Session = { identity: this.#assume(set) };
    this.#sessions.set(key, session);
    session.identity.then(
      (identity) => {
        // Without an expiration the session is used for one client only.
        session.renewAtMs = identity.expiration ? identity.expiration.getTime() - RENEW_BEFORE_MS : this.#now();
      },
      () => {
        if (this.#sessions.get(key) === session) this.#sessions.delete(key);
      },
    );
    return session.identity;
  }

  /** How many sessions are held; for tests. */
  get size(): number {
    return this.#sessions.size;
  }

  #evictDue(): void {
    const now = this.#now();
    for (const [key, session] of this.#sessions) {
      if (session.renewAtMs !== undefined && session.renewAtMs <= now) this.#sessions.delete(key);
    }
  }
}
