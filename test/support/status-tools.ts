import fs from 'node:fs';
import path from 'node:path';
import { locateBuiltTool, runCommand } from './run-command.ts';

/**
 * What GitOps tools would say about objects, computed by their own code through
 * test/tools/statuscheck: kstatus from sigs.k8s.io/cli-utils (Flux, `kubectl wait`), and Argo CD's
 * health from deploy/argocd/<group>_<Kind>/health.lua run with gopher-lua as Argo CD runs it.
 * The tool is built (once, cached) by test/controlplane/statuscheck.sh, which `npm run controlplane` runs.
 */

export type KstatusStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating' | 'NotFound' | 'Unknown';
export type ArgoHealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';

export interface Verdict<S extends string> {
  status: S;
  message: string;
  /** Set when the computation failed: a malformed object, or the Lua script raised an error. */
  error?: string;
}

export interface StatusReport {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  kstatus: Verdict<KstatusStatus>;
  /** The health.lua's own answer; null when deploy/argocd has no script for the kind. */
  lua: Verdict<ArgoHealthStatus> | null;
  /** What Argo CD shows: the script's answer, after gitops-engine's own rules (deletion, script errors). */
  argo: Verdict<ArgoHealthStatus> | null;
}

/** Anything with the fields the tool needs to decode it as a Kubernetes object. */
export interface KubeObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: object;
}

const root = path.resolve(import.meta.dirname, '../..');
const buildScript = path.join(root, 'test/controlplane/statuscheck.sh');
export const ARGOCD_DIR = path.join(root, 'deploy/argocd');

/** kstatus's verdict on each object, in order. */
export async function kstatus(objects: readonly KubeObjectLike[]): Promise<Verdict<KstatusStatus>[]> {
  return (await statusReports(objects)).map((report) => report.kstatus);
}

/** Argo CD's health of each object, in order; every kind must have a health.lua in deploy/argocd. */
export async function argoHealth(objects: readonly KubeObjectLike[]): Promise<Verdict<ArgoHealthStatus>[]> {
  return (await statusReports(objects)).map((report) => {
    if (report.argo === null) throw new Error(`deploy/argocd has no health.lua for ${report.apiVersion} ${report.kind}`);
    return report.argo;
  });
}

/** Both verdicts, and the script's own answer, for each object. */
export async function statusReports(objects: readonly KubeObjectLike[]): Promise<StatusReport[]> {
  const tool = await locateStatuscheck();
  const args = healthScripts().flatMap(({ key, file }) => ['--health', `${key}=${file}`]);
  const { code, stdout, stderr } = await runCommand(tool, args, { input: JSON.stringify(objects) });
  if (code !== 0) throw new Error(`statuscheck failed (exit ${code}): ${stderr.trim()}`);
  return JSON.parse(stdout) as StatusReport[];
}

/** The shipped health checks: deploy/argocd/<group>_<Kind>/health.lua, keyed as Argo CD keys them ("group/Kind"). */
export function healthScripts(): Array<{ key: string; file: string; configMapKey: string }> {
  return fs
    .readdirSync(ARGOCD_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(ARGOCD_DIR, entry.name, 'health.lua')))
    .map((entry) => {
      const separator = entry.name.lastIndexOf('_');
      const group = entry.name.slice(0, separator);
      const kind = entry.name.slice(separator + 1);
      return {
        key: `${group}/${kind}`,
        file: path.join(ARGOCD_DIR, entry.name, 'health.lua'),
        configMapKey: `resource.customizations.health.${group}_${kind}`,
      };
    });
}

/** Builds the tool when missing (about a minute cold) and returns its path, the script's last stdout line. */
export function locateStatuscheck(): Promise<string> {
  return locateBuiltTool(buildScript);
}
