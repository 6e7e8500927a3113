import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { AwsCredentialSet } from './credential-set.ts';
import { createEcrClient, type EcrClientOptions, releaseAwsClient } from './ecr-client.ts';

/** A registry password from GetAuthorizationToken, with its real lifetime. */
export interface EcrAuthorization {
  username: string;
  password: string;
  /** When the token was obtained (the operator's clock), and when ECR says it expires. */
  issuedAt: Date;
  expiresAt: Date;
  proxyEndpoint?: string;
}

export interface EcrTokenSource {
  getAuthorizationToken(set: AwsCredentialSet): Promise<EcrAuthorization>;
}

/** ECR's authorizationToken is base64("AWS:<password>"). Throws on anything else. */
export function decodeAuthorizationToken(token: string): { username: string; password: string } {
  const text = Buffer.from(token, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) throw new Error('ECR returned an authorization token that is not base64 of user:password');
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Told of every ECR API call's end; `error` is what the SDK threw, for the observer to classify (aws/errors.ts). */
export type EcrCallObserver = (action: string, outcome: 'success' | 'error', error?: unknown) => void;

/** Calls GetAuthorizationToken through the unmodified AWS SDK. */
export class SdkEcrTokenSource implements EcrTokenSource {
  readonly #options: EcrClientOptions;
  readonly #now: () => number;
  readonly #observe: EcrCallObserver;

  constructor(options: { client?: EcrClientOptions; now?: () => number; observe?: EcrCallObserver } = {}) {
    this.#options = options.client ?? {};
    this.#now = options.now ?? Date.now;
    this.#observe = options.observe ?? (() => {});
  }

  async getAuthorizationToken(set: AwsCredentialSet): Promise<EcrAuthorization> {
    const client = createEcrClient(set, this.#options);
    try {
      const issuedAt = new Date(this.#now());
      const out = await client.send(new GetAuthorizationTokenCommand({}));
      this.#observe('GetAuthorizationToken', 'success');
      const data = out.authorizationData?.[0];
      if (!data?.authorizationToken || !data.expiresAt) throw new Error('ECR returned no authorization data');
      const { username, password } = decodeAuthorizationToken(data.authorizationToken);
      return {
        username,
        password,
        issuedAt,
        expiresAt: new Date(data.expiresAt),
        ...(data.proxyEndpoint ? { proxyEndpoint: data.proxyEndpoint } : {}),
      };
    } catch (error) {
      this.#observe('GetAuthorizationToken', 'error', error);
      throw error;
    } finally {
      releaseAwsClient(client, this.#options);
    }
  }
}
