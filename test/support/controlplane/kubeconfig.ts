import fs from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { dump } from 'js-yaml';

export type KubeconfigCredentials = { clientCertPem: string; clientKeyPem: string } | { token: string };

export interface KubeconfigSpec {
  /** Names the cluster, user and context inside the file. */
  name: string;
  server: string;
  caCertPem: string;
  credentials: KubeconfigCredentials;
}

/**
 * Writes a self-contained kubeconfig (certificates embedded as *-data) that both
 * @kubernetes/client-node and the real kubectl read, and returns it loaded.
 */
export async function writeKubeconfig(filePath: string, spec: KubeconfigSpec): Promise<KubeConfig> {
  const user =
    'token' in spec.credentials
      ? { token: spec.credentials.token }
      : {
          'client-certificate-data': base64(spec.credentials.clientCertPem),
          'client-key-data': base64(spec.credentials.clientKeyPem),
        };
  const document = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: spec.name, cluster: { server: spec.server, 'certificate-authority-data': base64(spec.caCertPem) } }],
    users: [{ name: spec.name, user }],
    contexts: [{ name: spec.name, context: { cluster: spec.name, user: spec.name } }],
    'current-context': spec.name,
  };
  await fs.writeFile(filePath, dump(document), { mode: 0o600 });
  return loadKubeConfig(filePath);
}

export function loadKubeConfig(filePath: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(filePath);
  return kubeConfig;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
