import path from 'node:path';
import { type CommandResult, locateBuiltTool, runCommand } from './run-command.ts';

/**
 * Runs Helm built from Go modules (helm.sh/helm at HELM_VERSION in test/controlplane/versions.env)
 * by test/controlplane/helm.sh, which `npm run controlplane` runs too; built once and cached.
 */

export type HelmResult = CommandResult;

export interface HelmOptions {
  stdin?: string;
  /** Added to the process's environment. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

const buildScript = path.resolve(import.meta.dirname, '../controlplane/helm.sh');

/** Runs the cached helm binary (building it first when missing). A non-zero exit is returned, not thrown. */
export async function helm(args: readonly string[], options: HelmOptions = {}): Promise<HelmResult> {
  return runCommand(await locateHelm(), args, { ...(options.env ? { env: options.env } : {}), input: options.stdin ?? '', timeoutMs: options.timeoutMs ?? 120_000 });
}

/** The path of the helm binary: helm.sh's last stdout line (a cold build takes a few minutes). */
export function locateHelm(): Promise<string> {
  return locateBuiltTool(buildScript);
}
