import path from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { apiStatusCode, describeApiError } from './api-errors.ts';
import { writeKubeconfig } from './kubeconfig.ts';

export interface ServiceAccountKubeConfig {
  /** A kubeconfig file for the ServiceAccount, for kubectl or a separately started operator. */
  path: string;
  kubeConfig: KubeConfig;
}

export interface ServiceAccountIdentityOptions {
  admin: KubeConfig;
  server: string;
  caCertPem: string;
  /** Where the kubeconfig file is written. */
  dir: string;
  namespace: string;
  name: string;
  expirationSeconds?: number;
}

/**
 * Acts as a ServiceAccount under RBAC: creates the ServiceAccount if missing, asks the TokenRequest
 * API (as the admin) for a token bound to it, and writes a kubeconfig that authenticates with it.
 * The identity has only what RBAC grants `system:serviceaccount:<namespace>:<name>`.
 */
export async function serviceAccountKubeConfig(options: ServiceAccountIdentityOptions): Promise<ServiceAccountKubeConfig> {
  const { namespace, name } = options;
  const token = await requestServiceAccountToken(options.admin, namespace, name, {
    expirationSeconds: options.expirationSeconds ?? 3600,
  });
  const filePath = path.join(options.dir, `sa-${namespace}-${name}.kubeconfig`);
  const kubeConfig = await writeKubeconfig(filePath, {
    name: `system:serviceaccount:${namespace}:${name}`,
    server: options.server,
    caCertPem: options.caCertPem,
    credentials: { token },
  });
  return { path: filePath, kubeConfig };
}

export interface ServiceAccountTokenOptions {
  /** The token's `aud`; empty or omitted means the apiserver's own audience (its issuer). */
  audiences?: string[];
  /** Default 3600; the apiserver refuses less than 600. */
  expirationSeconds?: number;
}

/** Creates ServiceAccount `namespace/name` if missing and returns a TokenRequest token for it, asked as `admin`. */
export async function requestServiceAccountToken(
  admin: KubeConfig,
  namespace: string,
  name: string,
  options: ServiceAccountTokenOptions = {},
): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
  } catch (error) {
    if (apiStatusCode(error) !== 409) {
      throw new Error(`creating ServiceAccount ${namespace}/${name} failed: ${describeApiError(error)}`, { cause: error });
    }
  }
  let token: string | undefined;
  try {
    const request = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: { spec: { audiences: options.audiences ?? [], expirationSeconds: options.expirationSeconds ?? 3600 } },
    });
    token = request.status?.token;
  } catch (error) {
    throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name} failed: ${describeApiError(error)}`, {
      cause: error,
    });
  }
  if (token === undefined || token === '') {
    throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name} returned no token`);
  }
  return token;
}
