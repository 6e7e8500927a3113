import type { V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistryCredentials } from '../../../src/api/ecr-registry.ts';
import { credentialsFromSecret } from '../../../src/registry/credentials.ts';

const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN';
const TARGET = { namespace: 'team-a', region: 'us-east-1' };
const SPEC: EcrRegistryCredentials = { secretRef: { name: 'aws-keys' } };

/** A Secret as the API returns it: values base64-encoded under data. */
function keysSecret(values: Record<string, string>): V1Secret {
  const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'aws-keys', namespace: 'team-a' }, data };
}

function expectNoKeyValues(message: string): void {
  for (const value of [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN]) expect(message).to.not.include(value);
}

/** The Secret source as resolveCredentials uses it: the spec's secretRef, the spec's role. */
function fromSecret(secret: Parameters<typeof credentialsFromSecret>[0], spec: typeof SPEC, target: Parameters<typeof credentialsFromSecret>[3]) {
  return credentialsFromSecret(secret, spec.secretRef!, spec, target);
}

describe('credentialsFromSecret', () => {
  it('reads the default keys into a credential set for the target region', () => {
    const result = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }), SPEC, TARGET);
    expect(result).to.deep.equal({ ok: true, set: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, region: 'us-east-1' } });
  });

  it('reports CredentialsSecretNotFound, naming the Secret, when the Secret does not exist', () => {
    const result = fromSecret(undefined, SPEC, TARGET);
    expect(result).to.deep.equal({
      ok: false,
      reason: 'CredentialsSecretNotFound',
      message: 'Secret team-a/aws-keys with the AWS keys does not exist',
    });
  });

  it('reports CredentialsKeyMissing naming the missing secret key, but not the access key id it did find', () => {
    const result = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID }), SPEC, TARGET);
    expect(result).to.deep.equal({ ok: false, reason: 'CredentialsKeyMissing', message: 'Secret team-a/aws-keys has no non-empty AWS_SECRET_ACCESS_KEY' });
  });

  it('reports CredentialsKeyMissing naming the missing access key id, but not the secret key it did find', () => {
    const result = fromSecret(keysSecret({ AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }), SPEC, TARGET);
    expect(result).to.deep.equal({ ok: false, reason: 'CredentialsKeyMissing', message: 'Secret team-a/aws-keys has no non-empty AWS_ACCESS_KEY_ID' });
    if (!result.ok) expectNoKeyValues(result.message);
  });

  it('names both keys when the Secret has no data', () => {
    const result = fromSecret(keysSecret({}), SPEC, TARGET);
    expect(result).to.deep.include({ ok: false, reason: 'CredentialsKeyMissing' });
    if (!result.ok) expect(result.message).to.equal('Secret team-a/aws-keys has no data: it needs non-empty AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  });

  it('names the type and the keys of a Secret that holds something else, never their values', () => {
    const pullSecret: V1Secret = { ...keysSecret({ '.dockerconfigjson': '{"auths":{}}' }), type: 'kubernetes.io/dockerconfigjson' };
    expect(fromSecret(pullSecret, SPEC, TARGET)).to.deep.equal({
      ok: false,
      reason: 'CredentialsKeyMissing',
      message:
        'Secret team-a/aws-keys, of type kubernetes.io/dockerconfigjson, has keys .dockerconfigjson but no non-empty AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY: ' +
        'add them, or point spec.credentials.secretRef.accessKeyIDKey and secretAccessKeyKey at the keys that hold the AWS keys',
    });
    const lowerCase = fromSecret(keysSecret({ aws_access_key_id: ACCESS_KEY_ID, aws_secret_access_key: SECRET_ACCESS_KEY }), SPEC, TARGET);
    expect(lowerCase.ok).to.equal(false);
    if (!lowerCase.ok) {
      expect(lowerCase.message).to.include('has keys aws_access_key_id, aws_secret_access_key but no non-empty AWS_ACCESS_KEY_ID');
      expectNoKeyValues(lowerCase.message);
    }
  });

  it('treats a Secret without data as missing both keys', () => {
    const result = fromSecret({ metadata: { name: 'aws-keys', namespace: 'team-a' } }, SPEC, TARGET);
    expect(result).to.deep.include({ ok: false, reason: 'CredentialsKeyMissing' });
  });

  it('treats an empty or whitespace-only value as missing', () => {
    const empty = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: '' }), SPEC, TARGET);
    expect(empty).to.deep.include({ ok: false, reason: 'CredentialsKeyMissing' });
    const blank = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ' \n', AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }), SPEC, TARGET);
    expect(blank).to.deep.equal({ ok: false, reason: 'CredentialsKeyMissing', message: 'Secret team-a/aws-keys has no non-empty AWS_ACCESS_KEY_ID' });
  });

  it('reads custom key names and reports the custom name when it is missing', () => {
    const spec: EcrRegistryCredentials = {
      secretRef: { name: 'ci-keys', accessKeyIDKey: 'id', secretAccessKeyKey: 'secret', sessionTokenKey: 'token' },
    };
    const ok = fromSecret(keysSecret({ id: ACCESS_KEY_ID, secret: SECRET_ACCESS_KEY, token: SESSION_TOKEN }), spec, TARGET);
    expect(ok).to.deep.equal({
      ok: true,
      set: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, sessionToken: SESSION_TOKEN, region: 'us-east-1' },
    });

    const defaultsOnly = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, secret: SECRET_ACCESS_KEY }), spec, TARGET);
    expect(defaultsOnly).to.deep.equal({ ok: false, reason: 'CredentialsKeyMissing', message: 'Secret team-a/ci-keys has no non-empty id' });
  });

  it('reads an optional session token under the default key', () => {
    const result = fromSecret(
      keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: SESSION_TOKEN }),
      SPEC,
      TARGET,
    );
    expect(result.ok && result.set.source !== 'webIdentity' && result.set.source !== 'operator' && result.set.sessionToken).to.equal(SESSION_TOKEN);
  });

  it('leaves the session token out when it is absent or blank', () => {
    const variants: Array<Record<string, string>> = [{}, { AWS_SESSION_TOKEN: '' }, { AWS_SESSION_TOKEN: '\n' }];
    for (const values of variants) {
      const result = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY, ...values }), SPEC, TARGET);
      expect(result.ok, JSON.stringify(values)).to.equal(true);
      if (result.ok) expect(result.set).to.not.have.property('sessionToken');
    }
  });

  it('uses a pasted key without the whitespace around it, and says what to clean up', () => {
    const result = fromSecret(
      keysSecret({ AWS_ACCESS_KEY_ID: ` ${ACCESS_KEY_ID}\n`, AWS_SECRET_ACCESS_KEY: `${SECRET_ACCESS_KEY}\r\n`, AWS_SESSION_TOKEN: `\t${SESSION_TOKEN}\n` }),
      SPEC,
      TARGET,
    );
    expect(result).to.deep.include({
      ok: true,
      set: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, sessionToken: SESSION_TOKEN, region: 'us-east-1' },
    });
    const notices = result.ok ? (result.notices ?? []) : [];
    expect(notices).to.have.length(3);
    expect(notices[0]).to.match(/^the access key ID \(AWS_ACCESS_KEY_ID in Secret team-a\/aws-keys\) starts with a space and ends with a newline\. /);
    expect(notices[1]).to.match(/^the secret access key \(AWS_SECRET_ACCESS_KEY in Secret team-a\/aws-keys\) ends with a newline\. The operator ignores it/);
    expect(notices[2]).to.match(/^the session token \(AWS_SESSION_TOKEN in Secret team-a\/aws-keys\) starts with a tab and ends with a newline/);
    for (const notice of notices) expectNoKeyValues(notice);
  });

  it('uses a key without the quotes around it, and says so', () => {
    const result = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: `'${ACCESS_KEY_ID}'`, AWS_SECRET_ACCESS_KEY: `"${SECRET_ACCESS_KEY}"\n` }), SPEC, TARGET);
    expect(result).to.deep.include({ ok: true, set: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, region: 'us-east-1' } });
    const notices = result.ok ? (result.notices ?? []) : [];
    expect(notices[0]).to.include('is wrapped in single quotes');
    expect(notices[1]).to.include('is wrapped in double quotes and ends with a newline');
  });

  it('has no notices for clean keys', () => {
    const result = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }), SPEC, TARGET);
    expect(result).to.not.have.property('notices');
  });

  describe('refuses keys that cannot work, as CredentialsMalformed, before any call to AWS', () => {
    const cases: Array<[string, Record<string, string | Buffer>, string]> = [
      ['a temporary key without its session token', { AWS_ACCESS_KEY_ID: 'ASIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }, 'is a temporary key (ASIA…), which AWS accepts only with its session token: add the session token under AWS_SESSION_TOKEN'],
      ['the two keys swapped', { AWS_ACCESS_KEY_ID: SECRET_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: ACCESS_KEY_ID }, 'the access key ID (AWS_ACCESS_KEY_ID) looks like a secret access key: the two values may be swapped'],
      ['an access key ID in the secret field', { AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: ACCESS_KEY_ID }, 'the secret access key (AWS_SECRET_ACCESS_KEY) looks like an access key ID'],
      ['an ID base64-encoded twice', { AWS_ACCESS_KEY_ID: Buffer.from(ACCESS_KEY_ID).toString('base64'), AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }, 'is base64-encoded twice'],
      ['an ID in lower case', { AWS_ACCESS_KEY_ID: ACCESS_KEY_ID.toLowerCase(), AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }, 'is not an access key ID: those are upper-case letters and digits'],
      ['an ID with a space inside', { AWS_ACCESS_KEY_ID: 'AKIAIOSF ODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }, 'has whitespace or quotes inside it'],
      ['binary garbage', { AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: Buffer.from([0xff, 0x00, 0x81]) }, 'the secret access key (AWS_SECRET_ACCESS_KEY in Secret team-a/aws-keys) holds bytes that are not printable text'],
      ['a look-alike letter', { AWS_ACCESS_KEY_ID: `AKI\u0410IOSFODNN7EXAMPLE`, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }, 'not printable text'],
    ];
    for (const [title, values, message] of cases) {
      it(title, () => {
        const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
        const result = fromSecret({ metadata: { name: 'aws-keys' }, data }, SPEC, TARGET);
        expect(result).to.deep.include({ ok: false, reason: 'CredentialsMalformed' });
        if (!result.ok) {
          expect(result.message).to.include(message);
          expectNoKeyValues(result.message);
        }
      });
    }

    it('accepts a temporary key with its session token', () => {
      const result = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: 'ASIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: SESSION_TOKEN }), SPEC, TARGET);
      expect(result.ok).to.equal(true);
    });
  });

  it('falls back to stringData when a key is not under data', () => {
    const secret: V1Secret = { metadata: { name: 'aws-keys' }, stringData: { AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY } };
    expect(fromSecret(secret, SPEC, TARGET)).to.deep.include({ ok: true });
  });

  it('carries the role, external id and endpoint into the set', () => {
    const spec: EcrRegistryCredentials = { secretRef: { name: 'aws-keys' }, roleArn: 'arn:aws:iam::123456789012:role/puller', externalId: 'ext-1' };
    const result = fromSecret(keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }), spec, {
      ...TARGET,
      region: 'eu-west-1',
      endpoint: 'https://api.ecr.eu-west-1.amazonaws.com',
    });
    expect(result).to.deep.equal({
      ok: true,
      set: {
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET_ACCESS_KEY,
        region: 'eu-west-1',
        roleArn: 'arn:aws:iam::123456789012:role/puller',
        externalId: 'ext-1',
        endpoint: 'https://api.ecr.eu-west-1.amazonaws.com',
      },
    });
  });

  it('never puts a key value in a failure message', () => {
    const secrets: V1Secret[] = [
      keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SESSION_TOKEN: SESSION_TOKEN }),
      keysSecret({ AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: SESSION_TOKEN }),
      keysSecret({ AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: '  ' }),
      keysSecret({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }),
    ];
    for (const secret of secrets) {
      const result = fromSecret(secret, SPEC, TARGET);
      expect(result.ok).to.equal(false);
      if (!result.ok) expectNoKeyValues(result.message);
    }
  });
});
