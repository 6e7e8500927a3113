import { expect } from 'chai';
import { type AwsCredentialSet, credentialFingerprint, type KeysCredentialSet, secretValues } from '../../../src/aws/credential-set.ts';

const BASE: AwsCredentialSet = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
};

const FULL: AwsCredentialSet = {
  ...BASE,
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN',
  roleArn: 'arn:aws:iam::123456789012:role/puller',
  externalId: 'ext-1',
  endpoint: 'https://api.ecr.us-east-1.amazonaws.com',
};

describe('credentialFingerprint', () => {
  it('is 32 lowercase hex characters', () => {
    expect(credentialFingerprint(BASE)).to.match(/^[0-9a-f]{32}$/);
  });

  it('is stable for equal sets, whatever the property order', () => {
    const reordered: AwsCredentialSet = { region: 'us-east-1', secretAccessKey: BASE.secretAccessKey, accessKeyId: BASE.accessKeyId };
    expect(credentialFingerprint(reordered)).to.equal(credentialFingerprint(BASE));
    expect(credentialFingerprint({ ...FULL })).to.equal(credentialFingerprint(FULL));
  });

  it('changes when the secret key is rotated and the access key id stays', () => {
    const rotated = { ...BASE, secretAccessKey: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY' };
    expect(credentialFingerprint(rotated)).to.not.equal(credentialFingerprint(BASE));
  });

  const changes: Array<[keyof KeysCredentialSet, string]> = [
    ['accessKeyId', 'AKIAI44QH8DHBEXAMPLE'],
    ['secretAccessKey', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ'],
    ['sessionToken', 'IQoJb3JpZ2luX2VjOTHERSESSIONTOKEN'],
    ['roleArn', 'arn:aws:iam::123456789012:role/other'],
    ['externalId', 'ext-2'],
    ['region', 'us-west-2'],
    ['endpoint', 'https://vpce-0abc.api.ecr.us-east-1.vpce.amazonaws.com'],
  ];
  for (const [field, value] of changes) {
    it(`changes when ${field} changes`, () => {
      expect(credentialFingerprint({ ...FULL, [field]: value })).to.not.equal(credentialFingerprint(FULL));
    });
  }

  it('changes when an optional field is added', () => {
    expect(credentialFingerprint({ ...BASE, sessionToken: 'tok' })).to.not.equal(credentialFingerprint(BASE));
    expect(credentialFingerprint({ ...BASE, roleArn: 'arn:aws:iam::123456789012:role/puller' })).to.not.equal(credentialFingerprint(BASE));
  });

  it('does not confuse where one field ends and the next begins', () => {
    const a = credentialFingerprint({ accessKeyId: 'AKIAAB', secretAccessKey: 'CD', region: 'us-east-1' });
    const b = credentialFingerprint({ accessKeyId: 'AKIA', secretAccessKey: 'ABCD', region: 'us-east-1' });
    expect(a).to.not.equal(b);
  });

  it('contains no part of the keys', () => {
    const fingerprint = credentialFingerprint(FULL);
    for (const secret of [FULL.accessKeyId, FULL.secretAccessKey, FULL.sessionToken!]) {
      for (let i = 0; i + 6 <= secret.length; i++) expect(fingerprint).to.not.include(secret.slice(i, i + 6));
    }
  });
});

describe('secretValues', () => {
  it('lists the access key id, secret key and session token', () => {
    expect(secretValues(FULL)).to.deep.equal([FULL.accessKeyId, FULL.secretAccessKey, FULL.sessionToken]);
  });

  it('leaves out a missing session token', () => {
    expect(secretValues(BASE)).to.deep.equal([BASE.accessKeyId, BASE.secretAccessKey]);
  });
});
