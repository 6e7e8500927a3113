import fs from 'node:fs/promises';
import path from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { REPOSITORY_ROOT } from '../support/operator-process.ts';

/**
 * The plain-valued environment variables the shipped Deployment (deploy/deployment.yaml) sets on the
 * operator's container, such as NODE_OPTIONS, so the bench runs the operator as it is deployed.
 * Downward-API variables (POD_NAME, POD_NAMESPACE) are left out: the bench runs without leader election.
 */
export async function deploymentEnv(): Promise<Record<string, string>> {
  const deployment = load(await fs.readFile(path.join(REPOSITORY_ROOT, 'deploy', 'deployment.yaml'), 'utf8')) as V1Deployment;
  const container = deployment.spec?.template.spec?.containers[0];
  if (!container) throw new Error('deploy/deployment.yaml has no container');
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
  return env;
}
