import { expect } from 'chai';
import { AssumedRoleSessions, type AwsCredentialIdentity } from '../../../src/aws/assumed-roles.ts';
import type { AwsCredentialSet } from '../../../src/aws/credential-set.ts';

const START = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const ROLE: AwsCredentialSet = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  roleArn: 'arn:aws:iam::111122223333:role/ecr-puller',
  region: 'us-east-1',
};

function setup() {
  let nowMs = START;
  const calls: AwsCredentialSet[] = [];
  let fail: Error | undefined;
  const pending: Array<(identity: AwsCredentialIdentity) => void> = [];
  let hold = false;
  const sessions = new AssumedRoleSessions({
    now: () => nowMs,
    assume: async (set) => {
      calls.push(set);
      if (fail) throw fail;
      const identity = { accessKeyId: `ASIA${calls.length}`, secretAccessKey: 's', sessionToken: 't', expiration: new Date(nowMs + HOUR) };
      if (hold) return new Promise((resolve) => pending.push(() => resolve(identity)));
      return identity;
    },
  });
  return {
    sessions,
    calls,
    advance: (ms: number) => {
      nowMs += ms;
    },
    failWith: (error: Error | undefined) => {
      fail = error;
    },
    holdCalls: () => {
      hold = true;
      return pending;
    },
  };
}

describe('AssumedRoleSessions', () => {
  it('assumes a role once for every client of the same principal and role, until 5 minutes before the session expires', async () => {
    const { sessions, calls, advance } = setup();
    const first = await sessions.credentials(ROLE);
    expect((await sessions.credentials({ ...ROLE })).accessKeyId).to.equal(first.accessKeyId);
    advance(54 * 60_000);
    expect((await sessions.credentials(ROLE)).accessKeyId, '6 minutes left: still the same session').to.equal(first.accessKeyId);
    advance(2 * 60_000);
    expect((await sessions.credentials(ROLE)).accessKeyId, '4 minutes left: renewed').to.not.equal(first.accessKeyId);
    expect(calls).to.have.length(2);
  });

  it('shares one AssumeRole among concurrent callers', async () => {
    const { sessions, calls, holdCalls } = setup();
    const pending = holdCalls();
    const waiting = [sessions.credentials(ROLE), sessions.credentials(ROLE), sessions.credentials(ROLE)];
    await Promise.resolve();
    expect(calls).to.have.length(1);
    for (const resolve of pending) resolve({ accessKeyId: 'unused', secretAccessKey: 'unused' });
    const identities = await Promise.all(waiting);
    expect(new Set(identities.map((i) => i.accessKeyId)).size).to.equal(1);
  });

  it('keeps separate sessions for other roles, external IDs and principals', async () => {
    const { sessions, calls } = setup();
    await sessions.credentials(ROLE);
    await sessions.credentials({ ...ROLE, roleArn: 'arn:aws:iam::111122223333:role/other' });
    await sessions.credentials({ ...ROLE, externalId: 'tenant-42' });
    await sessions.credentials({ ...ROLE, secretAccessKey: 'rotated' });
    expect(calls).to.have.length(4);
    expect(sessions.size).to.equal(4);
  });

  it('does not keep a failed AssumeRole: the next caller tries again', async () => {
    const { sessions, calls, failWith } = setup();
    failWith(new Error('AccessDenied'));
    let thrown: unknown;
    await sessions.credentials(ROLE).catch((error: unknown) => {
      thrown = error;
    });
    expect(String(thrown)).to.include('AccessDenied');
    expect(sessions.size).to.equal(0);
    failWith(undefined);
    expect((await sessions.credentials(ROLE)).accessKeyId).to.equal('ASIA2');
    expect(calls).to.have.length(2);
  });
});
