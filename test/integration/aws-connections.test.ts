import { expect } from 'chai';
import { type AwsConnectionPool, createAwsConnectionPool } from '../../src/aws/connection-pool.ts';
import type { AwsCredentialSet } from '../../src/aws/credential-set.ts';
import { type EcrClientOptions, withSharedRoleSessions } from '../../src/aws/ecr-client.ts';
import { SdkEcrTokenSource } from '../../src/aws/ecr-token.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';

const ACCOUNT = '111122223333';
const ROLE_ACCOUNT = '444455556666';
const REGION = 'eu-west-1';

/**
 * The operator's AWS clients (one per GetAuthorizationToken call and per role session) on one
 * keep-alive pool, through the unmodified SDK against the emulator, which counts the TCP connections
 * it accepts.
 */
describe('AWS connections', () => {
  let emu: EcrEmulator;
  let pool: AwsConnectionPool | undefined;

  beforeEach(async () => {
    emu = await EcrEmulator.start();
  });
  afterEach(async () => {
    pool?.close();
    pool = undefined;
    await emu.stop();
  });

  function keySets(count: number): AwsCredentialSet[] {
    return Array.from({ length: count }, () => {
      const key = emu.addAccessKey({ accountId: ACCOUNT, region: REGION });
      return { region: REGION, endpoint: emu.url, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    });
  }

  function roleSet(): AwsCredentialSet {
    const roleArn = `arn:aws:iam::${ROLE_ACCOUNT}:role/puller`;
    emu.addRole({ roleArn });
    const [keys] = keySets(1);
    return { ...keys!, roleArn };
  }

  async function tokensFor(sets: readonly AwsCredentialSet[], options: EcrClientOptions): Promise<number> {
    const source = new SdkEcrTokenSource({ client: withSharedRoleSessions(options) });
    const before = emu.connectionsAccepted;
    for (const set of sets) {
      const token = await source.getAuthorizationToken(set);
      expect(emu.tokenInfo(token.password), 'the emulator issued the token').to.not.equal(undefined);
    }
    return emu.connectionsAccepted - before;
  }

  it('serves GetAuthorizationToken for six credential sets, a role session among them, over one connection', async () => {
    const sets = [...keySets(5), roleSet()];
    pool = createAwsConnectionPool();
    const pooled = await tokensFor(sets, { stsEndpoint: emu.url, connections: pool });
    expect(pooled).to.equal(1);
    expect(emu.callCount({ action: 'GetAuthorizationToken' })).to.equal(6);
    expect(emu.callCount({ action: 'AssumeRole' })).to.equal(1);

    // Without the pool each client, the STS one included, opens a connection of its own.
    const unpooled = await tokensFor([...keySets(5), roleSet()], { stsEndpoint: emu.url });
    expect(unpooled).to.equal(7);
  });

  it('keeps calls in flight working while other calls on the pool fail and release their clients', async () => {
    pool = createAwsConnectionPool();
    const good = keySets(12);
    const refused = keySets(4).map((set) => ({ ...set, secretAccessKey: 'not-the-secret' }));
    // Every call waits, so the good ones are still in flight when the refused ones end.
    emu.injectFault({ kind: 'latency', action: 'GetAuthorizationToken', latencyMs: 300 });
    const source = new SdkEcrTokenSource({ client: { connections: pool, maxAttempts: 1 } });
    const outcomes = await Promise.allSettled([...refused, ...good].map((set) => source.getAuthorizationToken(set)));
    const failed = outcomes.filter((o) => o.status === 'rejected');
    expect(failed, 'the refused sets, and only those, fail').to.have.length(4);
    for (const failure of failed) expect(String((failure as PromiseRejectedResult).reason)).to.match(/signature/i);
    expect(outcomes.slice(4).every((o) => o.status === 'fulfilled')).to.equal(true);

    // The pool still serves, over the connections it kept.
    const before = emu.connectionsAccepted;
    await source.getAuthorizationToken(good[0]!);
    expect(emu.connectionsAccepted - before).to.equal(0);
  });

  it('closes its idle connections when closed, and a later call opens a new one', async () => {
    pool = createAwsConnectionPool();
    const [set] = keySets(1);
    const source = new SdkEcrTokenSource({ client: { connections: pool } });
    await source.getAuthorizationToken(set!);
    const idle = Object.values(pool.httpAgent.freeSockets).flat();
    expect(idle).to.have.length(1);
    pool.close();
    expect(idle.every((socket) => socket?.destroyed)).to.equal(true);
    const before = emu.connectionsAccepted;
    await source.getAuthorizationToken(set!);
    expect(emu.connectionsAccepted - before).to.equal(1);
  });
});
