import type { ServiceAccountTokenSource } from '../aws/ecr-client.ts';
import { CredentialSourceError } from '../aws/errors.ts';
import type { KubeClients } from './clients.ts';
import { apiStatus, describeApiError, isNotFound } from './errors.ts';

/** STS reads the token once; an hour is the longest any of them lives (the guardrail policy enforces it too). */
export const SERVICE_ACCOUNT_TOKEN_SECONDS = 3600;

/**
 * Short-lived ServiceAccount tokens through the TokenRequest API, for one audience. The token is
 * handed straight to STS and kept nowhere. (A ServiceAccount deleted and recreated under the same
 * name has another uid, so it is another credential set, with a session of its own.)
 */
export function serviceAccountTokenRequests(clients: KubeClients): ServiceAccountTokenSource {
  return async (account, audience) => {
    try {
      const answer = await clients.core.createNamespacedServiceAccountToken({
        namespace: account.namespace,
        name: account.name,
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [audience], expirationSeconds: SERVICE_ACCOUNT_TOKEN_SECONDS } },
      });
      const token = answer.status?.token;
      if (!token) throw new CredentialSourceError('TokenRequestDenied', `TokenRequest for ServiceAccount ${account.namespace}/${account.name} returned no token`, { retryable: true });
      return token;
    } catch (error) {
      if (error instanceof CredentialSourceError) throw error;
      if (isNotFound(error)) {
        throw new CredentialSourceError('ServiceAccountNotFound', `ServiceAccount ${account.namespace}/${account.name} does not exist`, { cause: error });
      }
      const status = apiStatus(error);
      const denied = status === 403 || status === 401 || status === 422;
      throw new CredentialSourceError('TokenRequestDenied', `TokenRequest for ServiceAccount ${account.namespace}/${account.name} failed: ${describeApiError(error)}`, {
        retryable: !denied,
        cause: error,
      });
    }
  };
}
