import { randomBytes } from 'node:crypto';
import { Repository } from './repository.ts';

/** Time source for token and session expiry; a test injects one it can move. Milliseconds since the epoch. */
export interface EmulatorClock {
  now(): number;
}

export interface AccessKeyRecord {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  /** When set, requests must be signed for this region. */
  region?: string;
  /** The IAM user or assumed-role ARN, used in AccessDenied messages. */
  principalArn: string;
  /** Temporary (session) credentials carry a token and an expiry. */
  sessionToken?: string;
  expiresAtMs?: number;
}

export interface RoleRecord {
  roleArn: string;
  accountId: string;
  roleName: string;
  externalId?: string;
  maxSessionDurationSeconds: number;
  /** Accounts whose principals may assume the role; undefined means any known principal. */
  trustedAccountIds?: string[];
}

/** An IAM OIDC identity provider: the issuer URL and its client ID list (accepted audiences). */
export interface OidcProviderRecord {
  issuer: string;
  audiences: string[];
}

/**
 * One statement of a role's trust policy for AssumeRoleWithWebIdentity: Principal Federated = the
 * issuer's provider, Condition `<provider>:sub` StringLike one of `subjects` (`*` and `?` wildcards)
 * and, when set, `<provider>:aud` StringEquals `audience`.
 */
export interface WebIdentityTrust {
  issuer: string;
  subjects: string[];
  audience?: string;
}

/** A Pod Identity association as the container credentials endpoint sees it: a token and its role. */
export interface PodIdentityRecord {
  role: RoleRecord;
  durationSeconds: number;
}

/** One AssumeRoleWithWebIdentity call, for tests. `subject` is set once the token's signature checked out. */
export interface WebIdentityCall {
  roleArn: string;
  roleSessionName: string;
  issuer?: string;
  subject?: string;
  audiences?: string[];
  /** `Issued`, or the STS error code returned. */
  outcome: string;
  /** The session's access key id when one was issued. */
  accessKeyId?: string;
}

/** A registry password handed out by GetAuthorizationToken. */
export interface AuthTokenRecord {
  password: string;
  accessKeyId: string;
  accountId: string;
  region: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

const ACCOUNT_ID = /^\d{12}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomKeyId(prefix: 'AKIA' | 'ASIA'): string {
  const bytes = randomBytes(16);
  let id = prefix;
  for (const b of bytes) id += KEY_ALPHABET[b % KEY_ALPHABET.length];
  return id;
}

function randomSecret(): string {
  return randomBytes(30).toString('base64');
}

export function parseRoleArn(roleArn: string): { accountId: string; roleName: string } | undefined {
  const m = ROLE_ARN.exec(roleArn);
  return m ? { accountId: m[1]!, roleName: m[2]! } : undefined;
}

export function assertAccountId(accountId: string): void {
  if (!ACCOUNT_ID.test(accountId)) throw new Error(`account id must be 12 digits, got ${JSON.stringify(accountId)}`);
}

function repositoryKey(accountId: string, region: string, name: string): string {
  return `${accountId}/${region}/${name}`;
}

/** Everything the emulator knows: principals, roles, grants, repositories and issued tokens. */
export class EmulatorState {
  readonly clock: EmulatorClock;
  tokenLifetimeSeconds: number;
  private readonly accessKeys = new Map<string, AccessKeyRecord>();
  private readonly roles = new Map<string, RoleRecord>();
  /** `registryAccountId -> principal account ids` allowed to read its repositories. */
  private readonly grants = new Map<string, Set<string>>();
  private readonly repositories = new Map<string, Repository>();
  private readonly tokens = new Map<string, AuthTokenRecord>();
  private readonly oidcProviders = new Map<string, OidcProviderRecord>();
  private readonly webIdentityTrusts = new Map<string, WebIdentityTrust[]>();
  private readonly podIdentities = new Map<string, PodIdentityRecord>();
  private readonly webIdentityLog: WebIdentityCall[] = [];
  private issuedSinceSweep = 0;

  constructor(clock: EmulatorClock, tokenLifetimeSeconds: number) {
    this.clock = clock;
    this.tokenLifetimeSeconds = tokenLifetimeSeconds;
  }

  addAccessKey(input: {
    accountId: string;
    region?: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    userName?: string;
  }): AccessKeyRecord {
    assertAccountId(input.accountId);
    const accessKeyId = input.accessKeyId ?? randomKeyId('AKIA');
    if (this.accessKeys.has(accessKeyId)) throw new Error(`access key ${accessKeyId} already exists`);
    const record: AccessKeyRecord = {
      accessKeyId,
      secretAccessKey: input.secretAccessKey ?? randomSecret(),
      accountId: input.accountId,
      principalArn: `arn:aws:iam::${input.accountId}:user/${input.userName ?? `user-${accessKeyId.slice(-6).toLowerCase()}`}`,
      ...(input.region !== undefined ? { region: input.region } : {}),
    };
    this.accessKeys.set(accessKeyId, record);
    return record;
  }

  /** Session credentials of `role`, as AssumeRole, AssumeRoleWithWebIdentity and Pod Identity hand out. */
  addSessionCredentials(role: RoleRecord, sessionName: string, durationSeconds: number): AccessKeyRecord {
    const record: AccessKeyRecord = {
      accessKeyId: randomKeyId('ASIA'),
      secretAccessKey: randomSecret(),
      accountId: role.accountId,
      principalArn: `arn:aws:sts::${role.accountId}:assumed-role/${role.roleName}/${sessionName}`,
      sessionToken: randomBytes(96).toString('base64'),
      expiresAtMs: this.clock.now() + durationSeconds * 1000,
    };
    this.accessKeys.set(record.accessKeyId, record);
    return record;
  }

  findAccessKey(accessKeyId: string): AccessKeyRecord | undefined {
    return this.accessKeys.get(accessKeyId);
  }

  removeAccessKey(accessKeyId: string): boolean {
    return this.accessKeys.delete(accessKeyId);
  }

  /** Expires session credentials now: one key, or every temporary key when no id is given. */
  expireSessionCredentials(accessKeyId?: string): void {
    const now = this.clock.now();
    for (const record of this.accessKeys.values()) {
      if (record.sessionToken === undefined) continue;
      if (accessKeyId === undefined || record.accessKeyId === accessKeyId) record.expiresAtMs = Math.min(record.expiresAtMs ?? now, now);
    }
  }

  addRole(input: {
    roleArn: string;
    externalId?: string;
    maxSessionDurationSeconds?: number;
    trustedAccountIds?: string[];
  }): RoleRecord {
    const parsed = parseRoleArn(input.roleArn);
    if (!parsed) throw new Error(`not a role ARN: ${JSON.stringify(input.roleArn)}`);
    const record: RoleRecord = {
      roleArn: input.roleArn,
      accountId: parsed.accountId,
      roleName: parsed.roleName,
      maxSessionDurationSeconds: input.maxSessionDurationSeconds ?? 3600,
      ...(input.externalId !== undefined ? { externalId: input.externalId } : {}),
      ...(input.trustedAccountIds !== undefined ? { trustedAccountIds: [...input.trustedAccountIds] } : {}),
    };
    this.roles.set(input.roleArn, record);
    return record;
  }

  addOidcProvider(input: { issuer: string; audiences: string[] }): OidcProviderRecord {
    let url: URL;
    try {
      url = new URL(input.issuer);
    } catch (error) {
      throw new Error(`not an issuer URL: ${JSON.stringify(input.issuer)}`, { cause: error });
    }
    if (url.protocol !== 'https:') throw new Error(`an OIDC provider's issuer must be https, got ${input.issuer}`);
    if (input.audiences.length === 0) throw new Error('an OIDC provider needs at least one audience (client ID)');
    const record: OidcProviderRecord = { issuer: input.issuer, audiences: [...input.audiences] };
    this.oidcProviders.set(input.issuer, record);
    return record;
  }

  findOidcProvider(issuer: string): OidcProviderRecord | undefined {
    return this.oidcProviders.get(issuer);
  }

  removeOidcProvider(issuer: string): boolean {
    return this.oidcProviders.delete(issuer);
  }

  /** Adds a web identity statement to the role's trust policy, creating the role (as addRole) if missing. */
  addWebIdentityRole(input: {
    roleArn: string;
    issuer: string;
    subjects: string[];
    audience?: string;
    maxSessionDurationSeconds?: number;
  }): RoleRecord {
    if (input.subjects.length === 0) throw new Error('a web identity trust statement needs at least one subject');
    const role =
      this.roles.get(input.roleArn) ??
      this.addRole({
        roleArn: input.roleArn,
        ...(input.maxSessionDurationSeconds !== undefined ? { maxSessionDurationSeconds: input.maxSessionDurationSeconds } : {}),
      });
    const statements = this.webIdentityTrusts.get(input.roleArn) ?? [];
    statements.push({
      issuer: input.issuer,
      subjects: [...input.subjects],
      ...(input.audience !== undefined ? { audience: input.audience } : {}),
    });
    this.webIdentityTrusts.set(input.roleArn, statements);
    return role;
  }

  /** The role's web identity trust statements; none when it trusts no identity provider. */
  webIdentityTrustOf(roleArn: string): WebIdentityTrust[] {
    return this.webIdentityTrusts.get(roleArn) ?? [];
  }

  recordWebIdentityCall(call: WebIdentityCall): void {
    this.webIdentityLog.push(call);
  }

  webIdentityCalls(): WebIdentityCall[] {
    return this.webIdentityLog.map((call) => ({ ...call, ...(call.audiences ? { audiences: [...call.audiences] } : {}) }));
  }

  /** Registers a Pod Identity token; its role need not have been added (Pod Identity trusts the EKS service). */
  addPodIdentity(input: { token: string; roleArn: string; durationSeconds?: number }): void {
    if (input.token === '') throw new Error('a Pod Identity token must not be empty');
    const parsed = parseRoleArn(input.roleArn);
    if (!parsed) throw new Error(`not a role ARN: ${JSON.stringify(input.roleArn)}`);
    const role = this.roles.get(input.roleArn) ?? {
      roleArn: input.roleArn,
      accountId: parsed.accountId,
      roleName: parsed.roleName,
      maxSessionDurationSeconds: 43200,
    };
    this.podIdentities.set(input.token, { role, durationSeconds: input.durationSeconds ?? 3600 });
  }

  findPodIdentity(token: string): PodIdentityRecord | undefined {
    return this.podIdentities.get(token);
  }

  removePodIdentity(token: string): boolean {
    return this.podIdentities.delete(token);
  }

  findRole(roleArn: string): RoleRecord | undefined {
    return this.roles.get(roleArn);
  }

  removeRole(roleArn: string): boolean {
    this.webIdentityTrusts.delete(roleArn);
    return this.roles.delete(roleArn);
  }

  allowCrossAccount(registryAccountId: string, principalAccountId: string): void {
    assertAccountId(registryAccountId);
    assertAccountId(principalAccountId);
    let allowed = this.grants.get(registryAccountId);
    if (!allowed) {
      allowed = new Set();
      this.grants.set(registryAccountId, allowed);
    }
    allowed.add(principalAccountId);
  }

  revokeCrossAccount(registryAccountId: string, principalAccountId: string): void {
    this.grants.get(registryAccountId)?.delete(principalAccountId);
  }

  /** Whether principals of `principalAccountId` may read repositories of `registryAccountId`. */
  canAccess(principalAccountId: string, registryAccountId: string): boolean {
    return principalAccountId === registryAccountId || (this.grants.get(registryAccountId)?.has(principalAccountId) ?? false);
  }

  createRepository(accountId: string, region: string, name: string): Repository {
    assertAccountId(accountId);
    const key = repositoryKey(accountId, region, name);
    if (this.repositories.has(key)) throw new Error(`repository ${key} already exists`);
    const repository = new Repository(accountId, region, name, this.clock.now());
    this.repositories.set(key, repository);
    return repository;
  }

  deleteRepository(accountId: string, region: string, name: string): boolean {
    return this.repositories.delete(repositoryKey(accountId, region, name));
  }

  findRepository(accountId: string, region: string, name: string): Repository | undefined {
    return this.repositories.get(repositoryKey(accountId, region, name));
  }

  repositoriesOf(accountId: string, region: string): Repository[] {
    return [...this.repositories.values()]
      .filter((r) => r.accountId === accountId && r.region === region)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  issueToken(accessKey: AccessKeyRecord, region: string): AuthTokenRecord {
    const now = this.clock.now();
    const record: AuthTokenRecord = {
      password: randomBytes(96).toString('base64'),
      accessKeyId: accessKey.accessKeyId,
      accountId: accessKey.accountId,
      region,
      issuedAtMs: now,
      expiresAtMs: now + this.tokenLifetimeSeconds * 1000,
    };
    this.tokens.set(record.password, record);
    this.sweepTokens(now);
    return record;
  }

  /** Benchmarks issue many tokens; forget those expired for over an hour, now and then. */
  private sweepTokens(now: number): void {
    this.issuedSinceSweep += 1;
    if (this.issuedSinceSweep < 1000) return;
    this.issuedSinceSweep = 0;
    for (const [password, token] of this.tokens) if (token.expiresAtMs < now - 3_600_000) this.tokens.delete(password);
  }

  findToken(password: string): AuthTokenRecord | undefined {
    return this.tokens.get(password);
  }

  /** The token issued last for `accessKeyId` (the map keeps issue order), if any is remembered. */
  latestToken(accessKeyId: string): AuthTokenRecord | undefined {
    let latest: AuthTokenRecord | undefined;
    for (const token of this.tokens.values()) if (token.accessKeyId === accessKeyId) latest = token;
    return latest;
  }

  expireAllTokens(): void {
    const now = this.clock.now();
    for (const token of this.tokens.values()) token.expiresAtMs = Math.min(token.expiresAtMs, now);
  }
}
