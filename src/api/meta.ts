import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';

/** Object metadata as client-node types it (timestamps arrive as strings from watches and custom-object calls). */
export type ObjectMeta = V1ObjectMeta;
export type OwnerReference = V1OwnerReference;

/** metav1.Condition, as the Kubernetes API conventions define it. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}
