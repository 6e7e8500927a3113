import { minorOf, selectedKubernetesVersion } from './versions.ts';

/**
 * How the apiserver words the failure of a CRD's x-kubernetes-validations rule, which changed
 * between the pinned Kubernetes lines (found by running the admission tests on both):
 *
 * - 1.34 names the CEL type of the value the rule saw: `spec.x: Invalid value: "object": <message>`,
 *   `spec.y: Invalid value: "string": <message>`;
 * - 1.37 shows a scalar value itself, `spec.y: Invalid value: "11h": <message>`, and nothing for an
 *   object or list, `spec.x: Invalid value: <message>`.
 *
 * A Kubernetes line whose wording has not been observed fails loudly instead of being guessed.
 */
export function celRuleFailure(path: string, value: string | object, message: string, kubernetesVersion = selectedKubernetesVersion()): string {
  const minor = minorOf(kubernetesVersion);
  if (minor === 34) return `${path}: Invalid value: "${typeof value === 'string' ? 'string' : 'object'}": ${message}`;
  if (minor === 37) return typeof value === 'string' ? `${path}: Invalid value: "${value}": ${message}` : `${path}: Invalid value: ${message}`;
  throw new Error(
    `the wording of CEL rule failures on Kubernetes ${kubernetesVersion} has not been recorded: run test/integration/admission-cluster.test.ts on it and add it to test/support/controlplane/cel-messages.ts`,
  );
}
