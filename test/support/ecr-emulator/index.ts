/**
 * ECR emulator: a loopback HTTP server that the unmodified AWS SDK reaches through its `endpoint`
 * option, serving the ECR JSON API, STS AssumeRole and AssumeRoleWithWebIdentity, EKS Pod Identity's
 * container credentials endpoint and the registry v2 API from one port.
 *
 * ```ts
 * const emu = await EcrEmulator.start({ tokenLifetimeSeconds: 60, clock });
 * const key = emu.addAccessKey({ accountId: '111122223333', region: 'us-east-1' });
 * emu.createRepository({ accountId: '111122223333', region: 'us-east-1', name: 'team/app' });
 * const image = emu.pushImage({ accountId: '111122223333', region: 'us-east-1', repository: 'team/app', tags: ['v1'] });
 * const ecr = new ECRClient({ region: 'us-east-1', endpoint: emu.url, credentials: key });
 * // ... emu.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken', times: 1 });
 * await emu.stop();
 * ```
 *
 * API (all setup methods are synchronous):
 * - `EcrEmulator.start(options?: EcrEmulatorOptions): Promise<EcrEmulator>`; `stop(): Promise<void>`;
 *   `url` (`http://127.0.0.1:<port>`), `port`, `clock`.
 * - Tokens: `tokenLifetimeSeconds` (get/set, default 43200), `expireAllTokens()`,
 *   `tokenInfo(password)`, `latestToken(accessKeyId)`.
 * - Principals: `addAccessKey({ accountId, region?, accessKeyId?, secretAccessKey?, userName? })` returns
 *   `{ accessKeyId, secretAccessKey, accountId, region? }` (usable directly as SDK `credentials`);
 *   `removeAccessKey(id)`; `expireSessionCredentials(accessKeyId?)`;
 *   `addRole({ roleArn, externalId?, maxSessionDurationSeconds?, trustedAccountIds? })`; `removeRole(roleArn)`;
 *   `allowCrossAccount({ registryAccountId, principalAccountId })`; `revokeCrossAccount(...)`.
 * - Repositories and images: `createRepository({ accountId, region, name })`, `deleteRepository(...)`,
 *   `pushImage({ accountId, region, repository, tags?, ...ImageSpec })`,
 *   `pushIndex({ accountId, region, repository, tags?, format?, manifests })`,
 *   `pushManifest({ accountId, region, repository, tags?, mediaType, manifest, blobs? })` (any bytes, any media type),
 *   `tag({ ..., tag, digest })`, `untag({ ..., tag })`, `findImage({ ..., reference })`.
 * - Registry addressing: `registryHost(accountId, region)`, `registryUrl(accountId, region)`.
 * - Web identity (STS AssumeRoleWithWebIdentity): `addOidcProvider({ issuer, audiences })`,
 *   `removeOidcProvider(issuer)`, `addWebIdentityRole({ roleArn, issuer, subjects, audience?, maxSessionDurationSeconds? })`,
 *   `webIdentityCalls()`, `oidcKeyFetches`; option `oidcCaPem` (the CA that serves the issuer's discovery).
 * - EKS Pod Identity: `addPodIdentity({ token, roleArn, durationSeconds? })`, `removePodIdentity(token)`,
 *   `podIdentityUrl` (for AWS_CONTAINER_CREDENTIALS_FULL_URI).
 * - Faults: `injectFault(spec: FaultSpec): FaultHandle`, `clearFaults()`. Registry v2 answers can also be
 *   tampered with (`wrongDigest`, `truncatedJson`, `redirectLoop`; see RegistryTamperKind).
 * - Counters: `callCount(filter?)`, `counters()`, `resetCounters()`; `connectionsAccepted` (TCP connections, never reset).
 *
 * Behaviour worth knowing:
 * - Every request is SigV4-verified (service `ecr` or `sts`). A key added with a `region` only accepts
 *   signatures for that region; without one it accepts any, and the signing region is the region whose
 *   repositories the call sees (as an ECR endpoint is per region).
 * - Token and session expiry follow the injected clock; signature freshness (±15 min) follows the wall clock.
 * - GetAuthorizationToken's `proxyEndpoint` defaults to `https://<account>.dkr.ecr.<region>.amazonaws.com`
 *   (option `proxyEndpoint: 'emulator'` makes it `registryUrl(account, region)` instead).
 *   The registry v2 API on `url` picks the registry from a `/registry/<account>/<region>` path prefix
 *   (`registryUrl()`), else an ECR-shaped Host header, else the token's own account and region.
 * - ECR actions served: GetAuthorizationToken, BatchGetImage, DescribeImages, DescribeRepositories,
 *   ListImages (no pagination: everything in one page); any other action is UnknownOperationException.
 * - BatchGetImage without `acceptedMediaTypes` accepts single-image manifests only (as ECR); an index
 *   not accepted is reported in `failures` as ImageNotFound.
 * - Faults apply after authentication (a bad signature is refused before any fault). Counters count every
 *   call received, refused and faulted ones included (one per SDK attempt).
 * - Tokens expired for over an hour are forgotten now and then, so `tokenInfo` may no longer know them.
 * - AssumeRoleWithWebIdentity is not signed (the SDK sends it with no credentials). The JWT is
 *   verified as STS does: `iss` must be a provider added with addOidcProvider; the signature (RS256/384/512,
 *   ES256/384/512) must check out with the keys of `<iss>/.well-known/openid-configuration` → `jwks_uri`
 *   (fetched over HTTPS trusting `oidcCaPem`, cached per issuer, refetched for an unknown `kid`);
 *   `exp`/`nbf` are judged by the injected clock with 60 s leeway; `aud` must include one of the
 *   provider's audiences; the role's web identity trust must name the issuer, the `sub` (StringLike,
 *   `*`/`?`) and, when set, the audience. Refusals: InvalidIdentityToken (400; malformed, unknown issuer,
 *   keys not retrievable, bad signature, wrong audience), ExpiredTokenException (400), AccessDenied (403;
 *   unknown role or subject not trusted), ValidationError (400). Sessions are ASIA keys of the role's account.
 *   Counted as `AssumeRoleWithWebIdentity`, with no access key.
 * - The Pod Identity endpoint (GET `podIdentityUrl`) wants `Authorization: <token>` exactly as registered:
 *   missing → 400, unknown → 403 `{Code, Message}`; else 200 `{AccessKeyId, SecretAccessKey, Token,
 *   AccountId, Expiration}` with fresh session credentials. Counted as `PodIdentityCredentials`.
 */

import { createHash } from 'node:crypto';
import { CallCounters, type CallFilter, type CounterSnapshot } from './counters.ts';
import { type FaultHandle, FaultInjector, type FaultSpec } from './faults.ts';
import { OidcKeySource } from './oidc.ts';
import { POD_IDENTITY_PATH } from './pod-identity.ts';
import {
  type Blob,
  buildImage,
  buildIndex,
  type ImageSpec,
  INDEX_MEDIA_TYPES,
  type IndexEntry,
  type ManifestFormat,
  type Platform,
} from './images.ts';
import { registryHost } from './registry-v2.ts';
import type { Repository } from './repository.ts';
import { EmulatorServer } from './server.ts';
import { type AuthTokenRecord, type EmulatorClock, EmulatorState, type WebIdentityCall } from './state.ts';

export type { CallFilter, CounterSnapshot } from './counters.ts';
export type { FaultHandle, FaultKind, FaultSpec, RegistryTamperKind } from './faults.ts';
export type { ImageRuntimeConfig, ImageSpec, ManifestFormat, Platform } from './images.ts';
export { MEDIA_TYPES } from './images.ts';
export { REGISTRY_V2_ACTIONS } from './registry-v2.ts';
export type { EmulatorClock, WebIdentityCall } from './state.ts';
export { WEB_IDENTITY_CLOCK_SKEW_SECONDS } from './web-identity.ts';

export interface EcrEmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Lifetime of tokens from GetAuthorizationToken; default 12 hours. */
  tokenLifetimeSeconds?: number;
  /** Time source for token and session-credential expiry (ms since the epoch); default the system clock. */
  clock?: EmulatorClock;
  /**
   * What GetAuthorizationToken returns as `proxyEndpoint`: `'aws'` (default) gives
   * `https://<account>.dkr.ecr.<region>.amazonaws.com`; `'emulator'` gives `registryUrl(account, region)`;
   * a function decides itself.
   */
  proxyEndpoint?: 'aws' | 'emulator' | ((accountId: string, region: string) => string);
  /**
   * PEM of the CA(s) that STS trusts when it fetches an OIDC issuer's discovery document and JWKS
   * (the test control plane's `caCertPem`); default: Node's public CAs.
   */
  oidcCaPem?: string;
}

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  region?: string;
}

export interface RepositoryRef {
  accountId: string;
  region: string;
  repository: string;
}

export interface RepositoryInfo {
  accountId: string;
  region: string;
  name: string;
  arn: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>` */
  uri: string;
}

export interface PushedImage {
  digest: string;
  mediaType: string;
  /** The manifest exactly as served (its sha256 is `digest`). */
  manifest: string;
  configDigest: string;
  /** The config blob exactly as served. */
  config: string;
  layerDigests: string[];
  platform: Platform;
  sizeInBytes: number;
  pushedAt: Date;
}

/** A platform entry of an index: a new image to build, or an existing manifest by digest. */
export type IndexManifestSpec = ImageSpec | { digest: string; platform: Platform };

export interface PushedIndex {
  digest: string;
  mediaType: string;
  manifest: string;
  /** Child manifests, in index order. `image` is set for the ones built by this call. */
  manifests: Array<{ digest: string; mediaType: string; platform: Platform; image?: PushedImage }>;
  sizeInBytes: number;
  pushedAt: Date;
}

export interface ImageInfo {
  digest: string;
  mediaType: string;
  tags: string[];
  sizeInBytes: number;
  pushedAt: Date;
  manifest: string;
}

export interface IssuedToken {
  accessKeyId: string;
  accountId: string;
  region: string;
  issuedAt: Date;
  expiresAt: Date;
  expired: boolean;
}

const DEFAULT_TOKEN_LIFETIME_SECONDS = 12 * 60 * 60;
const systemClock: EmulatorClock = { now: () => Date.now() };

export class EcrEmulator {
  readonly url: string;
  readonly port: number;
  readonly clock: EmulatorClock;
  private readonly state: EmulatorState;
  private readonly faults: FaultInjector;
  private readonly counterStore: CallCounters;
  private readonly oidcKeys: OidcKeySource;
  private readonly server: EmulatorServer;

  private constructor(
    url: string,
    port: number,
    parts: { state: EmulatorState; faults: FaultInjector; counters: CallCounters; oidcKeys: OidcKeySource; server: EmulatorServer },
  ) {
    this.url = url;
    this.port = port;
    this.clock = parts.state.clock;
    this.state = parts.state;
    this.faults = parts.faults;
    this.counterStore = parts.counters;
    this.oidcKeys = parts.oidcKeys;
    this.server = parts.server;
  }

  static async start(options: EcrEmulatorOptions = {}): Promise<EcrEmulator> {
    const lifetime = options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
    assertPositive(lifetime);
    const state = new EmulatorState(options.clock ?? systemClock, lifetime);
    const faults = new FaultInjector();
    const counters = new CallCounters();
    // The URL is known only once listening; the 'emulator' preset reads it when a token is issued.
    let url = '';
    const choice = options.proxyEndpoint ?? 'aws';
    const proxyEndpoint =
      choice === 'aws'
        ? (accountId: string, region: string) => `https://${registryHost({ accountId, region })}`
        : choice === 'emulator'
          ? (accountId: string, region: string) => registryUrlOf(url, accountId, region)
          : choice;
    const oidcKeys = new OidcKeySource(options.oidcCaPem);
    const server = new EmulatorServer({ state, faults, counters, oidcKeys, proxyEndpoint });
    const host = options.host ?? '127.0.0.1';
    const address = await server.listen(host, options.port ?? 0);
    const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    url = `http://${urlHost}:${address.port}`;
    return new EcrEmulator(url, address.port, { state, faults, counters, oidcKeys, server });
  }

  async stop(): Promise<void> {
    await this.server.close();
  }

  // --- tokens ---------------------------------------------------------------------------------

  /** Lifetime of tokens issued from now on; tokens already issued keep their expiry. */
  get tokenLifetimeSeconds(): number {
    return this.state.tokenLifetimeSeconds;
  }

  set tokenLifetimeSeconds(seconds: number) {
    assertPositive(seconds);
    this.state.tokenLifetimeSeconds = seconds;
  }

  /** Makes every token issued so far expired (registry v2 answers 401 for them). */
  expireAllTokens(): void {
    this.state.expireAllTokens();
  }

  /** What the emulator knows about a registry password (from a pull secret, say); undefined if never issued. */
  tokenInfo(password: string): IssuedToken | undefined {
    const token: AuthTokenRecord | undefined = this.state.findToken(password);
    if (!token) return undefined;
    return {
      accessKeyId: token.accessKeyId,
      accountId: token.accountId,
      region: token.region,
      issuedAt: new Date(token.issuedAtMs),
      expiresAt: new Date(token.expiresAtMs),
      expired: this.clock.now() >= token.expiresAtMs,
    };
  }

  /** The token issued last for an access key, with its password (to compare with a pull secret's), if any. */
  latestToken(accessKeyId: string): (IssuedToken & { password: string }) | undefined {
    const token = this.state.latestToken(accessKeyId);
    return token ? { ...this.tokenInfo(token.password)!, password: token.password } : undefined;
  }

  // --- principals -------------------------------------------------------------------------------

  /** Registers a long-term access key (generated when ids are omitted). */
  addAccessKey(input: { accountId: string; region?: string; accessKeyId?: string; secretAccessKey?: string; userName?: string }): AccessKey {
    const record = this.state.addAccessKey(input);
    return {
      accessKeyId: record.accessKeyId,
      secretAccessKey: record.secretAccessKey,
      accountId: record.accountId,
      ...(record.region !== undefined ? { region: record.region } : {}),
    };
  }

  removeAccessKey(accessKeyId: string): boolean {
    return this.state.removeAccessKey(accessKeyId);
  }

  /** Expires session credentials from AssumeRole now: one key, or all of them (ECR then answers ExpiredTokenException). */
  expireSessionCredentials(accessKeyId?: string): void {
    this.state.expireSessionCredentials(accessKeyId);
  }

  /**
   * Registers a role that AssumeRole can hand out. With `externalId`, callers must send it.
   * `trustedAccountIds` limits which accounts' principals may assume it (default: any known principal).
   */
  addRole(input: { roleArn: string; externalId?: string; maxSessionDurationSeconds?: number; trustedAccountIds?: string[] }): void {
    this.state.addRole(input);
  }

  removeRole(roleArn: string): boolean {
    return this.state.removeRole(roleArn);
  }

  /** Lets principals of `principalAccountId` read the repositories of `registryAccountId` (a registry policy). */
  allowCrossAccount(input: { registryAccountId: string; principalAccountId: string }): void {
    this.state.allowCrossAccount(input.registryAccountId, input.principalAccountId);
  }

  revokeCrossAccount(input: { registryAccountId: string; principalAccountId: string }): void {
    this.state.revokeCrossAccount(input.registryAccountId, input.principalAccountId);
  }

  // --- web identity and Pod Identity --------------------------------------------------------------

  /**
   * Registers an IAM OIDC identity provider: tokens whose `iss` equals `issuer` exactly (for the test
   * control plane, its `serviceAccountIssuer`) are verified against its published keys, and their `aud`
   * must include one of `audiences` (the provider's client IDs, e.g. `sts.amazonaws.com`).
   */
  addOidcProvider(input: { issuer: string; audiences: string[] }): void {
    this.state.addOidcProvider(input);
  }

  removeOidcProvider(issuer: string): boolean {
    return this.state.removeOidcProvider(issuer);
  }

  /**
   * Lets web identities assume `roleArn` (created as by addRole if missing; its account is the one in
   * the ARN): a trust statement for `issuer` whose `sub` matches one of `subjects`
   * (e.g. `system:serviceaccount:<namespace>:<name>`; `*` and `?` wildcards as IAM's StringLike) and,
   * when `audience` is set, whose `aud` includes it. Calling it again adds another statement.
   */
  addWebIdentityRole(input: { roleArn: string; issuer: string; subjects: string[]; audience?: string; maxSessionDurationSeconds?: number }): void {
    this.state.addWebIdentityRole(input);
  }

  /** Every AssumeRoleWithWebIdentity call so far, oldest first: role, session name, verified `sub`, outcome. */
  webIdentityCalls(): WebIdentityCall[] {
    return this.state.webIdentityCalls();
  }

  /** How many times STS fetched an issuer's discovery document and JWKS (it caches them per issuer). */
  get oidcKeyFetches(): number {
    return this.oidcKeys.fetchCount;
  }

  /** The container credentials endpoint, for AWS_CONTAINER_CREDENTIALS_FULL_URI (plain http on loopback, which the SDK accepts). */
  get podIdentityUrl(): string {
    return `${this.url}${POD_IDENTITY_PATH}`;
  }

  /**
   * Associates a Pod Identity token (the content of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) with a role:
   * each call of the endpoint with it returns fresh session credentials of the role, lasting
   * `durationSeconds` (default 3600) by the injected clock.
   */
  addPodIdentity(input: { token: string; roleArn: string; durationSeconds?: number }): void {
    this.state.addPodIdentity(input);
  }

  removePodIdentity(token: string): boolean {
    return this.state.removePodIdentity(token);
  }

  // --- repositories and images ----------------------------------------------------------------

  createRepository(input: { accountId: string; region: string; name: string }): RepositoryInfo {
    const repository = this.state.createRepository(input.accountId, input.region, input.name);
    return { accountId: repository.accountId, region: repository.region, name: repository.name, arn: repository.arn, uri: repository.uri };
  }

  deleteRepository(input: { accountId: string; region: string; name: string }): boolean {
    return this.state.deleteRepository(input.accountId, input.region, input.name);
  }

  /** Builds an image (config blob, random layers, manifest), stores it and points `tags` at it. */
  pushImage(input: RepositoryRef & ImageSpec & { tags?: string[] }): PushedImage {
    const repository = this.repository(input);
    const image = this.storeImage(repository, input);
    for (const tag of input.tags ?? []) repository.tag(tag, image.digest);
    return image;
  }

  /**
   * Pushes an OCI index (format `oci`, default) or Docker manifest list (`docker`) whose entries are new
   * images built here (in the list's format unless they say otherwise) or existing manifests by digest.
   */
  pushIndex(input: RepositoryRef & { tags?: string[]; format?: ManifestFormat; manifests: IndexManifestSpec[] }): PushedIndex {
    const repository = this.repository(input);
    const format = input.format ?? 'oci';
    const children: PushedIndex['manifests'] = [];
    const entries: IndexEntry[] = [];
    let sizeInBytes = 0;
    for (const spec of input.manifests) {
      if ('digest' in spec) {
        const existing = repository.manifestByDigest(spec.digest);
        if (!existing) throw new Error(`no manifest ${spec.digest} in ${repository.name}`);
        entries.push({ digest: existing.digest, mediaType: existing.mediaType, size: existing.bytes.length, platform: spec.platform });
        children.push({ digest: existing.digest, mediaType: existing.mediaType, platform: spec.platform });
        sizeInBytes = Math.max(sizeInBytes, existing.sizeInBytes);
      } else {
        const image = this.storeImage(repository, { format, ...spec });
        entries.push({ digest: image.digest, mediaType: image.mediaType, size: Buffer.byteLength(image.manifest), platform: image.platform });
        children.push({ digest: image.digest, mediaType: image.mediaType, platform: image.platform, image });
        sizeInBytes = Math.max(sizeInBytes, image.sizeInBytes);
      }
    }
    const index = buildIndex(entries, format);
    const pushedAtMs = this.clock.now();
    // ECR reports a manifest list's size as the largest of its images.
    repository.putManifest({ digest: index.digest, mediaType: index.mediaType, bytes: index.bytes, pushedAtMs, sizeInBytes });
    for (const tag of input.tags ?? []) repository.tag(tag, index.digest);
    return {
      digest: index.digest,
      mediaType: index.mediaType,
      manifest: index.bytes.toString('utf8'),
      manifests: children,
      sizeInBytes,
      pushedAt: new Date(pushedAtMs),
    };
  }

  /**
   * Stores `manifest` exactly as given, under any media type (a schema 1 manifest, an artifact, plain
   * garbage), and points `tags` at it; its digest is the sha256 of those bytes. `blobs` (an artifact's
   * config and layers, say) are stored by the sha256 of their bytes too.
   */
  pushManifest(input: RepositoryRef & { tags?: string[]; mediaType: string; manifest: string; blobs?: string[] }): { digest: string } {
    const repository = this.repository(input);
    const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    for (const blob of input.blobs ?? []) {
      const bytes = Buffer.from(blob, 'utf8');
      repository.putBlob({ digest: sha256(bytes), mediaType: 'application/octet-stream', bytes });
    }
    const bytes = Buffer.from(input.manifest, 'utf8');
    const digest = sha256(bytes);
    repository.putManifest({ digest, mediaType: input.mediaType, bytes, pushedAtMs: this.clock.now(), sizeInBytes: bytes.length });
    for (const tag of input.tags ?? []) repository.tag(tag, digest);
    return { digest };
  }

  /** Points `tag` at an existing manifest, moving it from wherever it pointed. */
  tag(input: RepositoryRef & { tag: string; digest: string }): void {
    this.repository(input).tag(input.tag, input.digest);
  }

  /** Deletes a tag; the manifest stays reachable by digest. Returns whether the tag existed. */
  untag(input: RepositoryRef & { tag: string }): boolean {
    return this.repository(input).untag(input.tag);
  }

  /** Looks an image up by tag or digest, as the emulator stores it. */
  findImage(input: RepositoryRef & { reference: string }): ImageInfo | undefined {
    const repository = this.repository(input);
    const manifest = repository.resolve(input.reference);
    if (!manifest) return undefined;
    return {
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      tags: repository.tagsOf(manifest.digest),
      sizeInBytes: manifest.sizeInBytes,
      pushedAt: new Date(manifest.pushedAtMs),
      manifest: manifest.bytes.toString('utf8'),
    };
  }

  // --- registry addressing --------------------------------------------------------------------

  /** `<account>.dkr.ecr.<region>.amazonaws.com`, the host a pull secret names. */
  registryHost(accountId: string, region: string): string {
    return registryHost({ accountId, region });
  }

  /** Base URL of one registry's v2 API on this server: `<url>/registry/<account>/<region>` (append `/v2/...`). */
  registryUrl(accountId: string, region: string): string {
    return registryUrlOf(this.url, accountId, region);
  }

  // --- faults and counters --------------------------------------------------------------------

  injectFault(spec: FaultSpec): FaultHandle {
    return this.faults.add(spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /**
   * Calls received (including refused and faulted ones) matching the filter. Actions are ECR action
   * names, `AssumeRole`, `AssumeRoleWithWebIdentity`, `PodIdentityCredentials`, and `RegistryV2.*` for
   * registry requests (`RegistryV2` counts them all).
   */
  callCount(filter: CallFilter = {}): number {
    return this.counterStore.count(filter);
  }

  counters(): CounterSnapshot {
    return this.counterStore.snapshot();
  }

  resetCounters(): void {
    this.counterStore.reset();
  }

  /** TCP connections accepted since the emulator started: what a client's connection reuse saves. */
  get connectionsAccepted(): number {
    return this.server.connectionsAccepted;
  }

  // --- internals ------------------------------------------------------------------------------

  private repository(ref: RepositoryRef): Repository {
    const repository = this.state.findRepository(ref.accountId, ref.region, ref.repository);
    if (!repository) throw new Error(`no repository ${ref.repository} in ${ref.accountId}/${ref.region}; call createRepository first`);
    return repository;
  }

  private storeImage(repository: Repository, spec: ImageSpec): PushedImage {
    const pushedAtMs = this.clock.now();
    const image = buildImage(spec, new Date(pushedAtMs));
    const blobs: Blob[] = [image.config, ...image.layers];
    for (const blob of blobs) repository.putBlob(blob);
    repository.putManifest({
      digest: image.manifest.digest,
      mediaType: image.manifest.mediaType,
      bytes: image.manifest.bytes,
      pushedAtMs,
      sizeInBytes: image.sizeInBytes,
      artifactMediaType: image.config.mediaType,
    });
    return {
      digest: image.manifest.digest,
      mediaType: image.manifest.mediaType,
      manifest: image.manifest.bytes.toString('utf8'),
      configDigest: image.config.digest,
      config: image.config.bytes.toString('utf8'),
      layerDigests: image.layers.map((l) => l.digest),
      platform: image.platform,
      sizeInBytes: image.sizeInBytes,
      pushedAt: new Date(pushedAtMs),
    };
  }
}

function registryUrlOf(baseUrl: string, accountId: string, region: string): string {
  return `${baseUrl}/registry/${accountId}/${region}`;
}

function assertPositive(seconds: number): void {
  if (!(Number.isFinite(seconds) && seconds > 0)) throw new Error(`token lifetime must be a positive number of seconds, got ${seconds}`);
}

/** True for an OCI index or Docker manifest list media type. */
export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.includes(mediaType);
}
