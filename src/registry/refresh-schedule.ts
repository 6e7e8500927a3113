import { createHash } from 'node:crypto';

export interface TokenLifetime {
  issuedAt: Date;
  expiresAt: Date;
}

export interface RefreshPolicy {
  /** Refresh this long before expiry; unset means at half the token's real lifetime. */
  refreshBeforeMs?: number;
  /** Spread refreshes of many registries by up to this fraction of the lifetime (default 5 %). */
  jitterFraction?: number;
}

// Never refresh before this fraction of the lifetime has passed, whatever refreshBefore says,
// so a refreshBefore close to the token lifetime cannot turn into a refresh loop.
const MIN_AGE_FRACTION = 0.1;

/**
 * When to replace a token. Jitter is derived from `seed` (the registry's uid), so the time is
 * stable across reconciles (no status churn) yet spread across registries.
 */
export function refreshTime(token: TokenLifetime, policy: RefreshPolicy, seed: string): Date {
  const issued = token.issuedAt.getTime();
  const lifetime = Math.max(0, token.expiresAt.getTime() - issued);
  const jitter = (unitInterval(seed) * 2 - 1) * (policy.jitterFraction ?? 0.05) * lifetime;
  const target =
    policy.refreshBeforeMs !== undefined ? token.expiresAt.getTime() - policy.refreshBeforeMs - Math.abs(jitter) : issued + lifetime / 2 + jitter;
  return new Date(Math.max(target, issued + lifetime * MIN_AGE_FRACTION));
}

/** A stable number in [0, 1) from a string. */
function unitInterval(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
}
