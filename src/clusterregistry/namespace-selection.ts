import type { ClusterEcrRegistrySpec, LabelSelector, LabelSelectorRequirement } from '../api/cluster-ecr-registry.ts';

/** What selection needs of a namespace: its name, its labels, and whether it is being deleted. */
export interface NamespaceView {
  name: string;
  labels: Readonly<Record<string, string>>;
  terminating: boolean;
}

/**
 * Whether a ClusterEcrRegistry serves a namespace: named in spec.namespaces or matched by a non-empty
 * spec.namespaceSelector, and not excluded. An empty selector matches nothing here (unlike
 * metav1.LabelSelector's "everything"), so a forgotten field never fans keys out to every namespace;
 * the CRD rejects one at admission as well. A terminating namespace is not served: writing into it
 * would fail, and its Secrets are going anyway.
 */
export function selectsNamespace(spec: Pick<ClusterEcrRegistrySpec, 'namespaceSelector' | 'namespaces' | 'excludeNamespaces'>, namespace: NamespaceView): boolean {
  if (namespace.terminating) return false;
  if (spec.excludeNamespaces?.includes(namespace.name)) return false;
  if (spec.namespaces?.includes(namespace.name)) return true;
  return spec.namespaceSelector !== undefined && !isEmptySelector(spec.namespaceSelector) && matchesSelector(spec.namespaceSelector, namespace.labels);
}

export function isEmptySelector(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}

/** metav1.LabelSelector semantics: every matchLabels entry and every expression must hold. */
export function matchesSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return (
    Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
    (selector.matchExpressions ?? []).every((requirement) => matchesRequirement(requirement, labels))
  );
}

function matchesRequirement(requirement: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.operator) {
    case 'In':
      return has && (requirement.values ?? []).includes(value!);
    case 'NotIn':
      return !has || !(requirement.values ?? []).includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      // An operator the schema does not allow: select nothing rather than guess.
      return false;
  }
}
