import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  BatchGetImageCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  type ECRClientConfig,
  ECRServiceException,
  GetAuthorizationTokenCommand,
  ImageNotFoundException,
  RepositoryNotFoundException,
  ServerException,
} from '@aws-sdk/client-ecr';
import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  ExpiredTokenException,
  InvalidIdentityTokenException,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { fromContainerMetadata, fromHttp, fromNodeProviderChain, fromTokenFile } from '@aws-sdk/credential-providers';
import { expect } from 'chai';
import { type AccessKey, EcrEmulator, MEDIA_TYPES, WEB_IDENTITY_CLOCK_SKEW_SECONDS } from '../support/ecr-emulator/index.ts';
import { computeSignature } from '../support/ecr-emulator/sigv4.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { withAwsEnv } from '../support/aws-env.ts';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const REGION = 'eu-west-1';

function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function basic(password: string): string {
  return `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`;
}

/** Runs `fn`, expecting it to throw; returns what it threw. */
async function rejection(fn: () => Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, but the call succeeded');
}

/** GET with an explicit Host header (fetch cannot set one), as a client resolving an ECR host to the emulator would. */
function getWithHost(url: string, host: string, authorization: string): Promise<{ status: number; digest: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host, authorization } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: res.headers['docker-content-digest'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

function credentialsOf(key: AccessKey): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
}

describe('ECR emulator (through the unmodified AWS SDK)', function () {
  this.timeout(20_000);

  let emu: EcrEmulator;
  let nowMs: number;
  let key: AccessKey;
  const clients: Array<{ destroy(): void }> = [];

  function ecr(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, extra: { maxAttempts?: number; region?: string } = {}): ECRClient {
    const client = new ECRClient({ region: extra.region ?? REGION, endpoint: emu.url, credentials, maxAttempts: extra.maxAttempts ?? 3 });
    clients.push(client);
    return client;
  }

  async function passwordFor(client: ECRClient): Promise<string> {
    const out = await client.send(new GetAuthorizationTokenCommand({}));
    const token = out.authorizationData?.[0]?.authorizationToken;
    if (!token) throw new Error('no token');
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    return decoded.slice('AWS:'.length);
  }

  beforeEach(async () => {
    nowMs = Date.now();
    emu = await EcrEmulator.start({ clock: { now: () => nowMs } });
    key = emu.addAccessKey({ accountId: ACCOUNT, region: REGION });
    emu.createRepository({ accountId: ACCOUNT, region: REGION, name: 'team/app' });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await emu.stop();
  });

  describe('GetAuthorizationToken', () => {
    it('issues a token that decodes to AWS:<password> and expires after the configured lifetime', async () => {
      emu.tokenLifetimeSeconds = 90;
      const out = await ecr(credentialsOf(key)).send(new GetAuthorizationTokenCommand({}));
      const data = out.authorizationData?.[0];
      const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
      expect(decoded).to.match(/^AWS:.{20,}$/);
      const password = decoded.slice(4);
      expect(data?.expiresAt?.getTime()).to.equal(nowMs + 90_000);
      expect(data?.proxyEndpoint).to.equal(`https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`);
      const info = emu.tokenInfo(password);
      expect(info).to.include({ accessKeyId: key.accessKeyId, accountId: ACCOUNT, region: REGION, expired: false });
      expect(emu.tokenInfo('never-issued')).to.equal(undefined);
    });

    it('refuses a wrong secret key with InvalidSignatureException', async () => {
      const err = await rejection(() =>
        ecr({ accessKeyId: key.accessKeyId, secretAccessKey: `${key.secretAccessKey}x` }).send(new GetAuthorizationTokenCommand({})),
      );
      expect(err.name).to.equal('InvalidSignatureException');
      expect(err).to.be.instanceOf(ECRServiceException);
      expect(err.$metadata?.httpStatusCode).to.equal(400);
    });

    it('refuses an unknown access key with UnrecognizedClientException', async () => {
      const err = await rejection(() =>
        ecr({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'whatever' }).send(new GetAuthorizationTokenCommand({})),
      );
      expect(err.name).to.equal('UnrecognizedClientException');
      expect(err).to.be.instanceOf(ECRServiceException);
      expect(err.message).to.equal('The security token included in the request is invalid.');
    });

    it('refuses a signature for another region than the key is bound to', async () => {
      const err = await rejection(() => ecr(credentialsOf(key), { region: 'us-east-1' }).send(new GetAuthorizationTokenCommand({})));
      expect(err.name).to.equal('InvalidSignatureException');
    });
  });

  describe('injected faults', () => {
    it('surfaces throttling as ThrottlingException when the SDK may not retry', async () => {
      emu.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken' });
      const err = await rejection(() => ecr(credentialsOf(key), { maxAttempts: 1 }).send(new GetAuthorizationTokenCommand({})));
      expect(err.name).to.equal('ThrottlingException');
      expect(err).to.be.instanceOf(ECRServiceException);
      expect(err.$metadata?.httpStatusCode).to.equal(400);
    });

    it('lets the SDK retry through a single throttle with its default retries', async () => {
      const fault = emu.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken', times: 1 });
      const client = new ECRClient({ region: REGION, endpoint: emu.url, credentials: credentialsOf(key) });
      clients.push(client);
      const out = await client.send(new GetAuthorizationTokenCommand({}));
      expect(out.authorizationData).to.have.length(1);
      expect(fault.hits).to.equal(1);
      expect(fault.active).to.equal(false);
      expect(out.$metadata.attempts).to.equal(2);
      expect(emu.callCount({ action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId })).to.equal(2);
    });

    it('surfaces a 5xx as ServerException', async () => {
      emu.injectFault({ kind: 'serverError', times: 1 });
      const err = await rejection(() => ecr(credentialsOf(key), { maxAttempts: 1 }).send(new GetAuthorizationTokenCommand({})));
      expect(err.name).to.equal('ServerException');
      expect(err).to.be.instanceOf(ServerException);
      expect(err.$metadata?.httpStatusCode).to.equal(500);
    });

    it('denies one access key one action, leaving other keys and actions alone', async () => {
      const other = emu.addAccessKey({ accountId: ACCOUNT });
      emu.injectFault({ kind: 'accessDenied', accessKeyId: key.accessKeyId, action: 'GetAuthorizationToken' });
      const err = await rejection(() => ecr(credentialsOf(key)).send(new GetAuthorizationTokenCommand({})));
      expect(err.name).to.equal('AccessDeniedException');
      const repos = await ecr(credentialsOf(key)).send(new DescribeRepositoriesCommand({}));
      expect(repos.repositories?.map((r) => r.repositoryName)).to.deep.equal(['team/app']);
      const ok = await ecr(credentialsOf(other)).send(new GetAuthorizationTokenCommand({}));
      expect(ok.authorizationData).to.have.length(1);
    });

    it('resets the connection without an answer', async () => {
      emu.injectFault({ kind: 'connectionReset', times: 1 });
      const err = await rejection(() => ecr(credentialsOf(key), { maxAttempts: 1 }).send(new GetAuthorizationTokenCommand({})));
      expect((err as Error & { code?: string }).code).to.equal('ECONNRESET');
      const out = await ecr(credentialsOf(key), { maxAttempts: 1 }).send(new GetAuthorizationTokenCommand({}));
      expect(out.authorizationData).to.have.length(1);
    });

    it('adds latency and still answers', async () => {
      const fault = emu.injectFault({ kind: 'latency', latencyMs: 50, times: 1 });
      const out = await ecr(credentialsOf(key)).send(new GetAuthorizationTokenCommand({}));
      expect(out.authorizationData).to.have.length(1);
      expect(fault.hits).to.equal(1);
    });
  });

  describe('images', () => {
    it('resolves tags to digests and reports a missing tag in failures', async () => {
      const v1 = emu.pushImage({ accountId: ACCOUNT, region: REGION, repository: 'team/app', tags: ['v1', 'stable'] });
      const v2 = emu.pushImage({ accountId: ACCOUNT, region: REGION, repository: 'team/app', tags: ['v2'], format: 'docker' });
      const client = ecr(credentialsOf(key));

      const batch = await client.send(
        new BatchGetImageCommand({
          repositoryName: 'team/app',
          imageIds: [{ imageTag: 'v1' }, { imageTag: 'v2' }, { imageTag: 'missing' }],
        }),
      );
      expect(batch.images?.map((i) => [i.imageId?.imageTag, i.imageId?.imageDigest, i.imageManifestMediaType])).to.deep.equal([
        ['v1', v1.digest, MEDIA_TYPES.ociManifest],
        ['v2', v2.digest, MEDIA_TYPES.dockerManifest],
      ]);
      expect(sha256(batch.images?.[0]?.imageManifest ?? '')).to.equal(v1.digest);
      expect(batch.failures).to.deep.equal([
        { imageId: { imageTag: 'missing' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' },
      ]);

      const described = await client.send(
        new DescribeImagesCommand({ repositoryName: 'team/app', registryId: ACCOUNT, imageIds: [{ imageTag: 'v1' }, { imageDigest: v2.digest }] }),
      );
      const [d1, d2] = described.imageDetails ?? [];
      expect(d1).to.deep.include({
        registryId: ACCOUNT,
        repositoryName: 'team/app',
        imageDigest: v1.digest,
        imageTags: ['stable', 'v1'],
        imageSizeInBytes: v1.sizeInBytes,
        imageManifestMediaType: MEDIA_TYPES.ociManifest,
        artifactMediaType: MEDIA_TYPES.ociConfig,
      });
      expect(d1?.imagePushedAt?.getTime()).to.equal(nowMs);
      expect(d2).to.deep.include({ imageDigest: v2.digest, imageTags: ['v2'], artifactMediaType: MEDIA_TYPES.dockerConfig });
    });

    it('fails DescribeImages as a whole when one image is missing', async () => {
      emu.pushImage({ accountId: ACCOUNT, region: REGION, repository: 'team/app', tags: ['v1'] });
      const err = await rejection(() =>
        ecr(credentialsOf(key)).send(new DescribeImagesCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'v1' }, { imageTag: 'gone' }] })),
      );
      expect(err).to.be.instanceOf(ImageNotFoundException);
      expect(err.name).to.equal('ImageNotFoundException');
    });

    it('answers RepositoryNotFoundException for a repository that does not exist', async () => {
      const err = await rejection(() =>
        ecr(credentialsOf(key)).send(new DescribeImagesCommand({ repositoryName: 'nope', imageIds: [{ imageTag: 'v1' }] })),
      );
      expect(err).to.be.instanceOf(RepositoryNotFoundException);
    });

    it('moves a re-pushed tag to the new digest and forgets a deleted tag', async () => {
      const ref = { accountId: ACCOUNT, region: REGION, repository: 'team/app' };
      const first = emu.pushImage({ ...ref, tags: ['latest'] });
      nowMs += 60_000;
      const second = emu.pushImage({ ...ref, tags: ['latest'] });
      expect(second.digest).to.not.equal(first.digest);
      expect(emu.findImage({ ...ref, reference: 'latest' })?.digest).to.equal(second.digest);
      emu.tag({ ...ref, tag: 'old', digest: first.digest });
      expect(emu.untag({ ...ref, tag: 'latest' })).to.equal(true);

      const batch = await ecr(credentialsOf(key)).send(
        new BatchGetImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'latest' }, { imageTag: 'old' }, { imageDigest: second.digest }] }),
      );
      expect(batch.images?.map((i) => i.imageId?.imageDigest)).to.deep.equal([first.digest, second.digest]);
      expect(batch.failures?.map((f) => [f.imageId?.imageTag, f.failureCode])).to.deep.equal([['latest', 'ImageNotFound']]);
    });

    it('serves an index only to callers that accept index media types', async () => {
      const index = emu.pushIndex({
        accountId: ACCOUNT,
        region: REGION,
        repository: 'team/app',
        tags: ['multi'],
        manifests: [
          { platform: { os: 'linux', architecture: 'amd64' } },
          { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        ],
      });
      const client = ecr(credentialsOf(key));
      const accepted = await client.send(
        new BatchGetImageCommand({
          repositoryName: 'team/app',
          imageIds: [{ imageTag: 'multi' }],
          acceptedMediaTypes: [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest],
        }),
      );
      const image = accepted.images?.[0];
      expect(image?.imageManifestMediaType).to.equal(MEDIA_TYPES.ociIndex);
      const parsed = JSON.parse(image?.imageManifest ?? '{}') as { manifests: Array<{ digest: string; platform: unknown }> };
      expect(parsed.manifests.map((m) => m.platform)).to.deep.equal([
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux', variant: 'v8' },
      ]);
      expect(parsed.manifests.map((m) => m.digest)).to.deep.equal(index.manifests.map((m) => m.digest));

      const notAccepted = await client.send(new BatchGetImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'multi' }] }));
      expect(notAccepted.images).to.deep.equal([]);
      expect(notAccepted.failures?.[0]?.failureCode).to.equal('ImageNotFound');
    });

    it('allows another account’s registry only after a cross-account grant', async () => {
      emu.createRepository({ accountId: OTHER_ACCOUNT, region: REGION, name: 'shared' });
      const pushed = emu.pushImage({ accountId: OTHER_ACCOUNT, region: REGION, repository: 'shared', tags: ['v1'] });
      const client = ecr(credentialsOf(key));
      const command = new DescribeImagesCommand({ registryId: OTHER_ACCOUNT, repositoryName: 'shared', imageIds: [{ imageTag: 'v1' }] });
      const denied = await rejection(() => client.send(command));
      expect(denied.name).to.equal('AccessDeniedException');
      emu.allowCrossAccount({ registryAccountId: OTHER_ACCOUNT, principalAccountId: ACCOUNT });
      const out = await client.send(command);
      expect(out.imageDetails?.[0]?.imageDigest).to.equal(pushed.digest);
      expect(out.imageDetails?.[0]?.registryId).to.equal(OTHER_ACCOUNT);
    });
  });

  describe('STS AssumeRole', () => {
    const roleArn = `arn:aws:iam::${OTHER_ACCOUNT}:role/ecr-puller`;

    function sts(): STSClient {
      const client = new STSClient({ region: REGION, endpoint: emu.url, credentials: credentialsOf(key), maxAttempts: 1 });
      clients.push(client);
      return client;
    }

    it('yields session credentials that ECR accepts for the role’s account', async () => {
      emu.addRole({ roleArn, externalId: 'ext-123' });
      emu.createRepository({ accountId: OTHER_ACCOUNT, region: REGION, name: 'private' });
      const pushed = emu.pushImage({ accountId: OTHER_ACCOUNT, region: REGION, repository: 'private', tags: ['v1'] });
      const out = await sts().send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'operator', ExternalId: 'ext-123' }));
      const creds = out.Credentials;
      expect(creds?.AccessKeyId).to.match(/^ASIA[A-Z2-7]{16}$/);
      expect(creds?.Expiration?.getTime()).to.be.closeTo(nowMs + 3_600_000, 1000);
      expect(out.AssumedRoleUser?.Arn).to.equal(`arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/ecr-puller/operator`);

      const session = { accessKeyId: creds?.AccessKeyId ?? '', secretAccessKey: creds?.SecretAccessKey ?? '', sessionToken: creds?.SessionToken ?? '' };
      const client = ecr(session);
      const password = await passwordFor(client);
      expect(emu.tokenInfo(password)?.accountId).to.equal(OTHER_ACCOUNT);
      const images = await client.send(new BatchGetImageCommand({ repositoryName: 'private', imageIds: [{ imageTag: 'v1' }] }));
      expect(images.images?.[0]?.imageId?.imageDigest).to.equal(pushed.digest);

      const badToken = await rejection(() => ecr({ ...session, sessionToken: 'forged' }).send(new GetAuthorizationTokenCommand({})));
      expect(badToken.name).to.equal('UnrecognizedClientException');

      emu.expireSessionCredentials(session.accessKeyId);
      const expired = await rejection(() => client.send(new GetAuthorizationTokenCommand({})));
      expect(expired.name).to.equal('ExpiredTokenException');
    });

    it('refuses a wrong or missing externalId with AccessDenied', async () => {
      emu.addRole({ roleArn, externalId: 'ext-123' });
      const wrong = await rejection(() => sts().send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'operator', ExternalId: 'nope' })));
      expect(wrong.name).to.equal('AccessDenied');
      expect(wrong).to.be.instanceOf(STSServiceException);
      expect(wrong.$metadata?.httpStatusCode).to.equal(403);
      const missing = await rejection(() => sts().send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'operator' })));
      expect(missing.name).to.equal('AccessDenied');
      const unknownRole = await rejection(() =>
        sts().send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/absent`, RoleSessionName: 'operator' })),
      );
      expect(unknownRole.name).to.equal('AccessDenied');
    });

    it('refuses a caller with a wrong secret key', async () => {
      emu.addRole({ roleArn });
      const client = new STSClient({ region: REGION, endpoint: emu.url, credentials: { ...credentialsOf(key), secretAccessKey: 'wrong' }, maxAttempts: 1 });
      clients.push(client);
      const err = await rejection(() => client.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'operator' })));
      expect(err.name).to.equal('SignatureDoesNotMatch');
    });
  });

  describe('registry v2', () => {
    it('serves a manifest with the token, 401 without it, and 401 once the token expired', async () => {
      emu.tokenLifetimeSeconds = 1;
      const pushed = emu.pushImage({
        accountId: ACCOUNT,
        region: REGION,
        repository: 'team/app',
        tags: ['v1'],
        config: { Entrypoint: ['/bin/app'], Cmd: ['--serve'], WorkingDir: '/srv', User: '1000', Labels: { team: 'core' } },
      });
      const password = await passwordFor(ecr(credentialsOf(key)));
      const manifestUrl = `${emu.url}/v2/team/app/manifests/v1`;

      const ok = await fetch(manifestUrl, { headers: { authorization: basic(password) } });
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('content-type')).to.equal(MEDIA_TYPES.ociManifest);
      expect(ok.headers.get('docker-content-digest')).to.equal(pushed.digest);
      const body = Buffer.from(await ok.arrayBuffer());
      expect(sha256(body)).to.equal(pushed.digest);

      const anonymous = await fetch(manifestUrl);
      expect(anonymous.status).to.equal(401);
      expect(anonymous.headers.get('www-authenticate')).to.match(/^Basic realm=/);
      await anonymous.body?.cancel();

      nowMs += 1_000;
      const expired = await fetch(manifestUrl, { headers: { authorization: basic(password) } });
      expect(expired.status).to.equal(401);
      await expired.body?.cancel();
      expect(emu.tokenInfo(password)?.expired).to.equal(true);
    });

    it('serves config blobs by digest, HEAD, tag lists and the /v2/ ping', async () => {
      const pushed = emu.pushImage({
        accountId: ACCOUNT,
        region: REGION,
        repository: 'team/app',
        tags: ['v1'],
        config: { Entrypoint: ['/bin/app'], Labels: { team: 'core' } },
      });
      const password = await passwordFor(ecr(credentialsOf(key)));
      const auth = { authorization: basic(password) };

      const ping = await fetch(`${emu.url}/v2/`, { headers: auth });
      expect(ping.status).to.equal(200);
      await ping.body?.cancel();
      const unauthenticatedPing = await fetch(`${emu.url}/v2/`);
      expect(unauthenticatedPing.status).to.equal(401);
      await unauthenticatedPing.body?.cancel();

      const blob = await fetch(`${emu.registryUrl(ACCOUNT, REGION)}/v2/team/app/blobs/${pushed.configDigest}`, { headers: auth });
      expect(blob.status).to.equal(200);
      const configBytes = Buffer.from(await blob.arrayBuffer());
      expect(sha256(configBytes)).to.equal(pushed.configDigest);
      const config = JSON.parse(configBytes.toString('utf8')) as { os: string; architecture: string; config: { Entrypoint: string[]; Labels: Record<string, string> } };
      expect(config).to.deep.include({ os: 'linux', architecture: 'amd64' });
      expect(config.config.Entrypoint).to.deep.equal(['/bin/app']);
      expect(config.config.Labels).to.deep.equal({ team: 'core' });

      const head = await fetch(`${emu.url}/v2/team/app/manifests/${pushed.digest}`, { method: 'HEAD', headers: auth });
      expect(head.status).to.equal(200);
      expect(head.headers.get('docker-content-digest')).to.equal(pushed.digest);
      expect(Number(head.headers.get('content-length'))).to.equal(Buffer.byteLength(pushed.manifest));

      const tags = await fetch(`${emu.url}/v2/team/app/tags/list`, { headers: auth });
      expect(await tags.json()).to.deep.equal({ name: 'team/app', tags: ['v1'] });

      const missing = await fetch(`${emu.url}/v2/team/app/manifests/nope`, { headers: auth });
      expect(missing.status).to.equal(404);
      expect(await missing.json()).to.deep.equal({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'Requested image not found', detail: null }] });

      expect(emu.callCount({ action: 'RegistryV2' })).to.equal(6);
      expect(emu.callCount({ action: 'RegistryV2.Manifest', accessKeyId: key.accessKeyId })).to.equal(2);
    });
  });

  describe('registry v2 across accounts', () => {
    it('picks the registry from an ECR-shaped Host header and honours cross-account grants', async () => {
      emu.createRepository({ accountId: OTHER_ACCOUNT, region: REGION, name: 'shared/base' });
      const pushed = emu.pushImage({ accountId: OTHER_ACCOUNT, region: REGION, repository: 'shared/base', tags: ['v1'] });
      const password = await passwordFor(ecr(credentialsOf(key)));
      const url = `${emu.url}/v2/shared/base/manifests/v1`;
      const host = emu.registryHost(OTHER_ACCOUNT, REGION);

      expect((await getWithHost(url, host, basic(password))).status).to.equal(403);
      emu.allowCrossAccount({ registryAccountId: OTHER_ACCOUNT, principalAccountId: ACCOUNT });
      expect(await getWithHost(url, host, basic(password))).to.deep.equal({ status: 200, digest: pushed.digest });
      // Without a Host or path naming the registry, the token's own account is assumed.
      expect((await getWithHost(url, `127.0.0.1:${emu.port}`, basic(password))).status).to.equal(404);
      // A token is regional: another region's registry refuses it.
      expect((await getWithHost(url, emu.registryHost(OTHER_ACCOUNT, 'us-east-1'), basic(password))).status).to.equal(401);
    });

    it('can hand out the emulator itself as proxyEndpoint', async () => {
      const local = await EcrEmulator.start({ proxyEndpoint: 'emulator' });
      try {
        const localKey = local.addAccessKey({ accountId: ACCOUNT });
        const client = new ECRClient({ region: REGION, endpoint: local.url, credentials: credentialsOf(localKey) });
        clients.push(client);
        const out = await client.send(new GetAuthorizationTokenCommand({}));
        expect(out.authorizationData?.[0]?.proxyEndpoint).to.equal(`${local.url}/registry/${ACCOUNT}/${REGION}`);
      } finally {
        await local.stop();
      }
    });
  });

  describe('counters and robustness', () => {
    it('verifies signatures independently of the SDK (AWS SigV4 test suite, get-vanilla)', () => {
      const signature = computeSignature(
        {
          method: 'GET',
          rawTarget: '/',
          headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
          body: Buffer.alloc(0),
        },
        { scopeDate: '20150830', region: 'us-east-1', service: 'service', signedHeaders: ['host', 'x-amz-date'] },
        '20150830T123600Z',
        'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      );
      expect(signature).to.equal('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
    });

    it('counts calls per action and per access key, and resets', async () => {
      const client = ecr(credentialsOf(key));
      await client.send(new GetAuthorizationTokenCommand({}));
      await client.send(new GetAuthorizationTokenCommand({}));
      await client.send(new DescribeRepositoriesCommand({}));
      expect(emu.callCount({ action: 'GetAuthorizationToken' })).to.equal(2);
      expect(emu.counters()).to.deep.equal({
        total: 3,
        byAction: { GetAuthorizationToken: 2, DescribeRepositories: 1 },
        byAccessKey: { [key.accessKeyId]: { GetAuthorizationToken: 2, DescribeRepositories: 1 } },
      });
      emu.resetCounters();
      expect(emu.callCount()).to.equal(0);
    });

    it('answers malformed requests with errors and keeps serving', async () => {
      const unsigned = await fetch(emu.url, {
        method: 'POST',
        headers: { 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken', 'content-type': 'application/x-amz-json-1.1' },
        body: '{not json',
      });
      expect(unsigned.status).to.equal(400);
      expect(unsigned.headers.get('x-amzn-errortype')).to.equal('MissingAuthenticationTokenException');
      expect(await unsigned.json()).to.deep.include({ __type: 'MissingAuthenticationTokenException' });

      const garbageAuth = await fetch(emu.url, {
        method: 'POST',
        headers: {
          'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken',
          'content-type': 'application/x-amz-json-1.1',
          authorization: 'AWS4-HMAC-SHA256 garbage',
        },
        body: '{}',
      });
      expect(garbageAuth.status).to.equal(400);
      expect(await garbageAuth.json()).to.deep.include({ __type: 'IncompleteSignatureException' });

      const nowhere = await fetch(`${emu.url}/nowhere`);
      expect(nowhere.status).to.equal(404);
      await nowhere.body?.cancel();

      const badBasic = await fetch(`${emu.url}/v2/team/app/manifests/v1`, { headers: { authorization: 'Basic %%%' } });
      expect(badBasic.status).to.equal(401);
      await badBasic.body?.cancel();

      const out = await ecr(credentialsOf(key)).send(new GetAuthorizationTokenCommand({}));
      expect(out.authorizationData).to.have.length(1);
    });
  });
});

/** The claims of a JWT, read without verifying it (the test only needs `exp` and `sub`). */
function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}


describe('ECR emulator: keyless identities (web identity on the test apiserver, EKS Pod Identity)', function () {
  this.timeout(30_000);

  const roleArn = `arn:aws:iam::${OTHER_ACCOUNT}:role/ecr-web-identity`;
  const audience = 'sts.amazonaws.com';
  let emu: EcrEmulator;
  let nowMs: number;
  let namespace: string;
  let issuer: string;
  let tempDir: string;
  const clients: Array<{ destroy(): void }> = [];

  function sts(): STSClient {
    // No credentials: the SDK sends AssumeRoleWithWebIdentity unsigned.
    const client = new STSClient({ region: REGION, endpoint: emu.url, maxAttempts: 1 });
    clients.push(client);
    return client;
  }

  function ecrWith(credentials: ECRClientConfig['credentials']): ECRClient {
    const client = new ECRClient({ region: REGION, endpoint: emu.url, credentials, maxAttempts: 1 });
    clients.push(client);
    return client;
  }

  async function tokenAccount(client: ECRClient): Promise<string | undefined> {
    const out = await client.send(new GetAuthorizationTokenCommand({}));
    const decoded = Buffer.from(out.authorizationData?.[0]?.authorizationToken ?? '', 'base64').toString('utf8');
    return emu.tokenInfo(decoded.slice('AWS:'.length))?.accountId;
  }

  function assume(webIdentityToken: string, extra: { DurationSeconds?: number } = {}) {
    return sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: 'ecr-operator', WebIdentityToken: webIdentityToken, ...extra }));
  }

  beforeEach(async () => {
    namespace = await createTestNamespace('web-identity');
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-emulator-identity-'));
    nowMs = Date.now();
    emu = await EcrEmulator.start({ clock: { now: () => nowMs }, oidcCaPem: testEnv().caCertPem });
    issuer = testEnv().serviceAccountIssuer;
    emu.addOidcProvider({ issuer, audiences: [audience] });
    emu.addWebIdentityRole({ roleArn, issuer, subjects: [`system:serviceaccount:${namespace}:puller`], audience });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await emu.stop();
    await fs.rm(tempDir, { recursive: true, force: true });
    await deleteTestNamespace(namespace);
  });

  describe('STS AssumeRoleWithWebIdentity', () => {
    it('exchanges a ServiceAccount token for a session that ECR accepts in the role’s account', async () => {
      const token = await testEnv().serviceAccountToken(namespace, 'puller', { audiences: [audience] });

      const out = await assume(token);

      const subject = `system:serviceaccount:${namespace}:puller`;
      expect(out.SubjectFromWebIdentityToken).to.equal(subject);
      expect(out.Audience).to.equal(audience);
      expect(out.Provider).to.equal(`arn:aws:iam::${OTHER_ACCOUNT}:oidc-provider/${issuer.replace(/^https:\/\//, '').replace(/\/$/, '')}`);
      expect(out.AssumedRoleUser?.Arn).to.equal(`arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/ecr-web-identity/ecr-operator`);
      const creds = out.Credentials;
      expect(creds?.AccessKeyId).to.match(/^ASIA[A-Z2-7]{16}$/);
      expect(creds?.Expiration?.getTime()).to.be.closeTo(nowMs + 3_600_000, 1000);
      const session = { accessKeyId: creds?.AccessKeyId ?? '', secretAccessKey: creds?.SecretAccessKey ?? '', sessionToken: creds?.SessionToken ?? '' };
      expect(await tokenAccount(ecrWith(session))).to.equal(OTHER_ACCOUNT);

      const shorter = await assume(token, { DurationSeconds: 900 });
      expect(shorter.Credentials?.Expiration?.getTime()).to.be.closeTo(nowMs + 900_000, 1000);

      expect(emu.callCount({ action: 'AssumeRoleWithWebIdentity' })).to.equal(2);
      // Unsigned: no access key is attributed to the STS calls, only to the ECR call.
      expect(emu.counters().byAccessKey).to.deep.equal({ [session.accessKeyId]: { GetAuthorizationToken: 1 } });
      // The issuer's discovery document and JWKS are fetched once and cached.
      expect(emu.oidcKeyFetches).to.equal(1);
      expect(emu.webIdentityCalls()).to.deep.equal([
        { roleArn, roleSessionName: 'ecr-operator', issuer, subject, audiences: [audience], outcome: 'Issued', accessKeyId: session.accessKeyId },
        { roleArn, roleSessionName: 'ecr-operator', issuer, subject, audiences: [audience], outcome: 'Issued', accessKeyId: shorter.Credentials?.AccessKeyId },
      ]);
    });

    it('refuses a ServiceAccount of another namespace with AccessDenied', async () => {
      const otherNamespace = await createTestNamespace('web-identity-other');
      try {
        const token = await testEnv().serviceAccountToken(otherNamespace, 'puller', { audiences: [audience] });

        const err = await rejection(() => assume(token));

        expect(err).to.be.instanceOf(STSServiceException);
        expect(err.name).to.equal('AccessDenied');
        expect(err.message).to.equal('Not authorized to perform sts:AssumeRoleWithWebIdentity');
        expect(err.$metadata?.httpStatusCode).to.equal(403);
        expect(emu.webIdentityCalls().map((c) => [c.subject, c.outcome])).to.deep.equal([
          [`system:serviceaccount:${otherNamespace}:puller`, 'AccessDenied'],
        ]);
      } finally {
        await deleteTestNamespace(otherNamespace);
      }
    });

    it('refuses a token for another audience, or for the apiserver’s own, with InvalidIdentityToken', async () => {
      for (const audiences of [['vault'], []]) {
        const token = await testEnv().serviceAccountToken(namespace, 'puller', { audiences });

        const err = await rejection(() => assume(token));

        // The wire code is InvalidIdentityToken; the SDK names the modelled error after its class.
        expect(err).to.be.instanceOf(InvalidIdentityTokenException);
        expect(err.name).to.equal('InvalidIdentityTokenException');
        expect(err.message).to.equal('Incorrect token audience');
        expect(err.$metadata?.httpStatusCode).to.equal(400);
      }
      expect(emu.webIdentityCalls().map((c) => c.audiences)).to.deep.equal([['vault'], [issuer]]);
    });

    it('refuses tokens not signed by the issuer’s keys: a tampered subject, a foreign key, alg none', async () => {
      // An untrusted ServiceAccount's genuine token, its subject swapped for the trusted one.
      const genuine = await testEnv().serviceAccountToken(namespace, 'intruder', { audiences: [audience] });
      const [header, , signature] = genuine.split('.');
      const claims = { ...claimsOf(genuine), sub: `system:serviceaccount:${namespace}:puller` };
      const tampered = `${header}.${base64urlJson(claims)}.${signature}`;
      // The same claims signed by a key of the attacker's own, under the apiserver's key id.
      const foreignKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const forgedInput = `${header}.${base64urlJson(claims)}`;
      const forged = `${forgedInput}.${sign('sha256', Buffer.from(forgedInput), foreignKey).toString('base64url')}`;
      const unsigned = `${base64urlJson({ alg: 'none' })}.${base64urlJson(claims)}.${signature}`;

      for (const token of [tampered, forged, unsigned]) {
        const err = await rejection(() => assume(token));
        expect(err).to.be.instanceOf(InvalidIdentityTokenException);
        expect(err.message).to.equal('The signature of the web identity token could not be verified with the keys of its issuer.');
      }
      // Claims of an unverified token are not believed, so no subject is recorded.
      expect(emu.webIdentityCalls().map((c) => [c.subject, c.outcome])).to.deep.equal([
        [undefined, 'InvalidIdentityToken'],
        [undefined, 'InvalidIdentityToken'],
        [undefined, 'InvalidIdentityToken'],
      ]);
      expect(emu.callCount({ action: 'AssumeRoleWithWebIdentity' })).to.equal(3);
    });

    it('refuses an expired token with ExpiredTokenException, judged by the emulator’s clock', async () => {
      const token = await testEnv().serviceAccountToken(namespace, 'puller', { audiences: [audience], expirationSeconds: 600 });
      const exp = claimsOf(token).exp as number;

      nowMs = (exp + WEB_IDENTITY_CLOCK_SKEW_SECONDS - 1) * 1000;
      expect((await assume(token)).Credentials?.AccessKeyId).to.match(/^ASIA/);

      nowMs = (exp + WEB_IDENTITY_CLOCK_SKEW_SECONDS) * 1000;
      const err = await rejection(() => assume(token));

      expect(err).to.be.instanceOf(ExpiredTokenException);
      expect(err.name).to.equal('ExpiredTokenException');
      expect(err.$metadata?.httpStatusCode).to.equal(400);
      expect(err.message).to.equal(`Token expired: current date/time ${exp + WEB_IDENTITY_CLOCK_SKEW_SECONDS} must be before the expiration date/time${exp}`);
    });

    it('refuses a token whose issuer is not a registered OIDC provider, and a malformed token', async () => {
      const token = await testEnv().serviceAccountToken(namespace, 'puller', { audiences: [audience] });
      emu.removeOidcProvider(issuer);

      const unknownIssuer = await rejection(() => assume(token));
      expect(unknownIssuer).to.be.instanceOf(InvalidIdentityTokenException);
      expect(unknownIssuer.message).to.equal(`No OpenIDConnect provider found in your account for ${issuer}`);

      const malformed = await rejection(() => assume('not-a-jwt'));
      expect(malformed).to.be.instanceOf(InvalidIdentityTokenException);
      expect(emu.oidcKeyFetches).to.equal(0);

      // On the wire: STS's awsQuery error document.
      const raw = await fetch(emu.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: roleArn, RoleSessionName: 'raw', WebIdentityToken: token }).toString(),
      });
      expect(raw.status).to.equal(400);
      expect(raw.headers.get('content-type')).to.equal('text/xml');
      expect(await raw.text()).to.match(
        /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>InvalidIdentityToken<\/Code><Message>No OpenIDConnect provider found in your account for [^<]+<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
      );
    });

    it('refuses when it cannot fetch the issuer’s keys (an emulator that does not trust the cluster CA)', async () => {
      const untrusting = await EcrEmulator.start();
      try {
        untrusting.addOidcProvider({ issuer, audiences: [audience] });
        untrusting.addWebIdentityRole({ roleArn, issuer, subjects: [`system:serviceaccount:${namespace}:puller`] });
        const token = await testEnv().serviceAccountToken(namespace, 'puller', { audiences: [audience] });
        const client = new STSClient({ region: REGION, endpoint: untrusting.url, maxAttempts: 1 });
        clients.push(client);

        const err = await rejection(() =>
          client.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: 'ecr-operator', WebIdentityToken: token })),
        );

        expect(err).to.be.instanceOf(InvalidIdentityTokenException);
        expect(err.message).to.match(/^Couldn't retrieve verification key from your identity provider/);
      } finally {
        await untrusting.stop();
      }
    });

    it('answers injected faults in STS’s shape', async () => {
      const token = await testEnv().serviceAccountToken(namespace, 'puller', { audiences: [audience] });
      emu.injectFault({ kind: 'throttle', action: 'AssumeRoleWithWebIdentity', times: 1 });
      const throttled = await rejection(() => assume(token));
      expect(throttled.name).to.equal('Throttling');
      expect(throttled.$metadata?.httpStatusCode).to.equal(400);
      expect((await assume(token)).Credentials?.AccessKeyId).to.match(/^ASIA/);
    });
  });

  describe('the SDK’s own providers (the operator’s identity)', () => {
    it('IRSA: fromTokenFile and the default chain read AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE', async () => {
      // Written as the kubelet projects it: the token alone, no trailing newline.
      const token = await testEnv().serviceAccountToken(namespace, 'puller', { audiences: [audience] });
      const tokenFile = path.join(tempDir, 'token');
      await fs.writeFile(tokenFile, token, { mode: 0o600 });
      const clientConfig = { endpoint: emu.url, region: REGION };

      const [fromFile, fromChain] = await withAwsEnv({ AWS_ROLE_ARN: roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile }, async () => [
        await tokenAccount(ecrWith(fromTokenFile({ clientConfig }))),
        await tokenAccount(ecrWith(fromNodeProviderChain({ clientConfig }))),
      ]);

      expect([fromFile, fromChain]).to.deep.equal([OTHER_ACCOUNT, OTHER_ACCOUNT]);
      expect(emu.webIdentityCalls().map((c) => [c.subject, c.outcome])).to.deep.equal([
        [`system:serviceaccount:${namespace}:puller`, 'Issued'],
        [`system:serviceaccount:${namespace}:puller`, 'Issued'],
      ]);
      expect(emu.callCount({ action: 'GetAuthorizationToken' })).to.equal(2);
    });

    it('EKS Pod Identity: the container provider sends the token file and gets session credentials', async () => {
      const podToken = `pod-identity-${namespace}`;
      emu.addPodIdentity({ token: podToken, roleArn });
      const tokenFile = path.join(tempDir, 'eks-pod-identity-token');
      await fs.writeFile(tokenFile, podToken, { mode: 0o600 });

      const direct = await fromHttp({ awsContainerCredentialsFullUri: emu.podIdentityUrl, awsContainerAuthorizationTokenFile: tokenFile })();
      expect(direct.accessKeyId).to.match(/^ASIA[A-Z2-7]{16}$/);
      expect(direct.expiration?.getTime()).to.be.closeTo(nowMs + 3_600_000, 1000);
      expect(await tokenAccount(ecrWith(direct))).to.equal(OTHER_ACCOUNT);

      const env = { AWS_CONTAINER_CREDENTIALS_FULL_URI: emu.podIdentityUrl, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile };
      const viaChain = await withAwsEnv(env, () => tokenAccount(ecrWith(fromNodeProviderChain({ clientConfig: { region: REGION } }))));
      expect(viaChain).to.equal(OTHER_ACCOUNT);

      // The older ECS-style provider reads the token from AWS_CONTAINER_AUTHORIZATION_TOKEN itself.
      const legacy = await withAwsEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: emu.podIdentityUrl, AWS_CONTAINER_AUTHORIZATION_TOKEN: podToken }, () =>
        fromContainerMetadata()(),
      );
      expect(await tokenAccount(ecrWith(legacy))).to.equal(OTHER_ACCOUNT);

      expect(emu.callCount({ action: 'PodIdentityCredentials' })).to.equal(3);
    });

    it('EKS Pod Identity: refuses an unknown token with 403 and a missing one with 400', async () => {
      emu.addPodIdentity({ token: 'the-registered-token', roleArn });
      const tokenFile = path.join(tempDir, 'eks-pod-identity-token');
      await fs.writeFile(tokenFile, 'some-other-token', { mode: 0o600 });

      const err = await rejection(() =>
        fromHttp({ awsContainerCredentialsFullUri: emu.podIdentityUrl, awsContainerAuthorizationTokenFile: tokenFile, maxRetries: 0 })(),
      );
      expect(err.message).to.equal('Server responded with status: 403');
      expect((err as Error & { Code?: string }).Code).to.equal('AccessDeniedException');

      const missing = await fetch(emu.podIdentityUrl);
      expect(missing.status).to.equal(400);
      expect(await missing.json()).to.deep.equal({ Code: 'InvalidRequest', Message: 'Service account token cannot be empty' });
      expect(emu.callCount({ action: 'PodIdentityCredentials' })).to.equal(2);
    });
  });
});
