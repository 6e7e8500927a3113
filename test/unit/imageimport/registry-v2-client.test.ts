import { expect } from 'chai';
import { createRegistryV2Reader, RegistryV2Error } from '../../../src/imageimport/registry-v2-client.ts';
import { configBlob, digestOf } from './images.ts';

interface SeenRequest {
  url: string;
  authorization: string | undefined;
  accept: string | undefined;
}

/** A fetch that answers from a table of URL → response and records what it was sent. */
function fakeFetch(routes: Record<string, () => Response>, seen: SeenRequest[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    seen.push({ url, authorization: headers.get('authorization') ?? undefined, accept: headers.get('accept') ?? undefined });
    expect(init?.redirect).to.equal('manual');
    const route = routes[url];
    if (!route) return new Response('{"errors":[{"code":"NOT_FOUND"}]}', { status: 404 });
    return route();
  }) as typeof fetch;
}

const BASE = 'https://111122223333.dkr.ecr.us-east-1.amazonaws.com';
const LOGIN = { username: 'AWS', password: 'token-password' };
const BASIC = `Basic ${Buffer.from('AWS:token-password').toString('base64')}`;

describe('createRegistryV2Reader', () => {
  const blob = configBlob({ Cmd: ['app'] });

  it('fetches a blob with Basic auth and checks its digest', async () => {
    const seen: SeenRequest[] = [];
    const reader = createRegistryV2Reader(BASE, LOGIN, { fetch: fakeFetch({ [`${BASE}/v2/team/app/blobs/${blob.digest}`]: () => new Response(blob.text) }, seen) });
    expect((await reader.blob('team/app', blob.digest)).toString()).to.equal(blob.text);
    expect(seen).to.deep.equal([{ url: `${BASE}/v2/team/app/blobs/${blob.digest}`, authorization: BASIC, accept: undefined }]);
  });

  it('follows a redirect to S3 without sending the token there', async () => {
    const seen: SeenRequest[] = [];
    const s3 = 'https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/blob?X-Amz-Signature=abc';
    const reader = createRegistryV2Reader(BASE, LOGIN, {
      fetch: fakeFetch(
        {
          [`${BASE}/v2/team/app/blobs/${blob.digest}`]: () => new Response(null, { status: 307, headers: { location: s3 } }),
          [s3]: () => new Response(blob.text),
        },
        seen,
      ),
    });
    await reader.blob('team/app', blob.digest);
    expect(seen.map((s) => s.authorization)).to.deep.equal([BASIC, undefined]);
  });

  it('refuses a redirect that downgrades to plain HTTP', async () => {
    const reader = createRegistryV2Reader(BASE, LOGIN, {
      fetch: fakeFetch({ [`${BASE}/v2/team/app/blobs/${blob.digest}`]: () => new Response(null, { status: 302, headers: { location: 'http://evil.example/x' } }) }, []),
    });
    const error = await reader.blob('team/app', blob.digest).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(RegistryV2Error);
    expect((error as Error).message).to.match(/non-HTTPS/);
  });

  it('refuses content that does not match its digest', async () => {
    const wrong = digestOf('something else');
    const reader = createRegistryV2Reader(BASE, LOGIN, { fetch: fakeFetch({ [`${BASE}/v2/team/app/blobs/${wrong}`]: () => new Response(blob.text) }, []) });
    const error = (await reader.blob('team/app', wrong).catch((e: unknown) => e)) as RegistryV2Error;
    expect(error.message).to.match(/does not match its digest/);
    expect(error.retryable).to.equal(false);
  });

  it('explains 401 and treats 429 and 5xx as worth retrying', async () => {
    const path = `${BASE}/v2/team/app/blobs/${blob.digest}`;
    for (const [status, retryable, text] of [[401, false, /refused the pull secret token/], [429, true, /HTTP 429/], [503, true, /HTTP 503/]] as const) {
      const reader = createRegistryV2Reader(BASE, LOGIN, { fetch: fakeFetch({ [path]: () => new Response('{}', { status }) }, []) });
      const error = (await reader.blob('team/app', blob.digest).catch((e: unknown) => e)) as RegistryV2Error;
      expect(error).to.include({ status, retryable });
      expect(error.message).to.match(text);
      expect(error.message).to.not.include('token-password');
    }
  });

  it('sends the Accept header for manifests and reports the served media type', async () => {
    const seen: SeenRequest[] = [];
    const manifest = JSON.stringify({ schemaVersion: 2, config: { digest: blob.digest } });
    const digest = digestOf(manifest);
    const reader = createRegistryV2Reader(BASE, LOGIN, {
      fetch: fakeFetch({ [`${BASE}/v2/team/app/manifests/${digest}`]: () => new Response(manifest, { headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }) }, seen),
    });
    const served = await reader.manifest('team/app', digest, 'application/vnd.oci.image.manifest.v1+json');
    expect(served.mediaType).to.equal('application/vnd.oci.image.manifest.v1+json');
    expect(seen[0]?.accept).to.equal('application/vnd.oci.image.manifest.v1+json');
  });

  it('refuses a body larger than allowed', async () => {
    const big = 'x'.repeat(2048);
    const digest = digestOf(big);
    const reader = createRegistryV2Reader(BASE, LOGIN, { maxBytes: 1024, fetch: fakeFetch({ [`${BASE}/v2/team/app/blobs/${digest}`]: () => new Response(big) }, []) });
    const error = (await reader.blob('team/app', digest).catch((e: unknown) => e)) as Error;
    expect(error.message).to.match(/more than the 1024 bytes allowed/);
  });

  it('reports a network failure by its code, as worth retrying', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
    }) as typeof fetch;
    const reader = createRegistryV2Reader(BASE, LOGIN, { fetch: failing });
    const error = (await reader.blob('team/app', blob.digest).catch((e: unknown) => e)) as RegistryV2Error;
    expect(error).to.include({ retryable: true, status: undefined });
    expect(error.message).to.match(/ECONNREFUSED$/);
  });

  it('gives up on a registry that does not answer in time, as worth retrying', async () => {
    const hanging = ((_url: unknown, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      })) as typeof fetch;
    const reader = createRegistryV2Reader(BASE, LOGIN, { fetch: hanging, timeoutMs: 50 });
    const error = (await reader.blob('team/app', blob.digest).catch((e: unknown) => e)) as RegistryV2Error;
    expect(error).to.be.instanceOf(RegistryV2Error);
    expect(error).to.include({ retryable: true });
    expect(error.message).to.match(/timed out$/);
  });
});
