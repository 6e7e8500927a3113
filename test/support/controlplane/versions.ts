import fs from 'node:fs';
import path from 'node:path';

/** test/controlplane/versions.env: the one place the test world's versions are pinned. */
export const VERSIONS_ENV = path.resolve(import.meta.dirname, '../../controlplane/versions.env');

export interface PinnedControlPlane {
  kubernetes: string;
  etcd: string;
}

/** The kubernetes/etcd pairs of versions.env's CONTROL_PLANES, oldest first. */
export function pinnedControlPlanes(): PinnedControlPlane[] {
  const line = /^CONTROL_PLANES="([^"]*)"$/m.exec(fs.readFileSync(VERSIONS_ENV, 'utf8'))?.[1];
  if (line === undefined) throw new Error(`${VERSIONS_ENV} has no CONTROL_PLANES="<kubernetes>/<etcd> ..." line`);
  return line
    .trim()
    .split(/\s+/)
    .map((pair) => {
      const [kubernetes, etcd] = pair.split('/');
      if (!kubernetes || !etcd) throw new Error(`${VERSIONS_ENV}: "${pair}" is not <kubernetes>/<etcd>`);
      return { kubernetes, etcd };
    });
}

/**
 * The Kubernetes version this process tests against: ECR_TEST_KUBERNETES when set (one of the
 * pinned ones), else the first pinned control plane.
 */
export function selectedKubernetesVersion(env: NodeJS.ProcessEnv = process.env): string {
  const pinned = pinnedControlPlanes().map((plane) => plane.kubernetes);
  const wanted = env.ECR_TEST_KUBERNETES;
  if (wanted === undefined || wanted === '') return pinned[0]!;
  if (!pinned.includes(wanted)) {
    throw new Error(`ECR_TEST_KUBERNETES=${wanted} is not one of the pinned control planes (${pinned.join(', ')}) in ${VERSIONS_ENV}`);
  }
  return wanted;
}

/** "1.37.2" → 37: for behaviour that differs between Kubernetes lines. */
export function minorOf(version: string): number {
  const minor = Number(version.split('.')[1]);
  if (!Number.isInteger(minor)) throw new Error(`not a Kubernetes version: ${version}`);
  return minor;
}
