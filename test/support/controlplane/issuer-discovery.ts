import https from 'node:https';
import { type KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { apiStatusCode, describeApiError } from './api-errors.ts';

/** Where kube-apiserver serves its ServiceAccount issuer's OIDC discovery document and key set. */
export const OIDC_DISCOVERY_PATH = '/.well-known/openid-configuration';
export const OIDC_JWKS_PATH = '/openid/v1/jwks';

/** A name of our own: the bootstrap binding of the same role (to system:serviceaccounts) stays as it is. */
export const ISSUER_DISCOVERY_BINDING = 'service-account-issuer-discovery-public';

/**
 * Lets anyone read the issuer's discovery document and JWKS, as a cluster does when it registers
 * itself as an IAM OIDC provider: the bootstrap ClusterRole `system:service-account-issuer-discovery`
 * (those two non-resource URLs, `get` only) bound to `system:unauthenticated`. Nothing else is opened.
 * Idempotent: the binding lives in etcd and survives apiserver restarts.
 */
export async function publishIssuerDiscovery(admin: KubeConfig): Promise<void> {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  try {
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: ISSUER_DISCOVERY_BINDING },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:service-account-issuer-discovery' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }],
      },
    });
  } catch (error) {
    if (apiStatusCode(error) !== 409) {
      throw new Error(`publishing the ServiceAccount issuer failed: ${describeApiError(error)}`, { cause: error });
    }
  }
}

/**
 * Whether an anonymous client (no credentials, trusting only `caCertPem`) can read the discovery
 * document. The RBAC authorizer reads bindings from an informer, so this turns true shortly after
 * publishIssuerDiscovery().
 */
export function issuerDiscoveryReadable(apiServerUrl: string, caCertPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = https.get(`${apiServerUrl}${OIDC_DISCOVERY_PATH}`, { ca: caCertPem, timeout: 2000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
