import fs from 'node:fs';
import path from 'node:path';
import { type CommandResult, locateBuiltTool, runCommand } from './run-command.ts';

/**
 * Runs promtool built from Go modules (github.com/prometheus/prometheus at PROMETHEUS_VERSION in
 * test/controlplane/versions.env) by test/controlplane/promtool.sh, which `npm run controlplane`
 * runs too; built once and cached.
 */

export type ToolResult = CommandResult;

const CONTROLPLANE_DIR = path.resolve(import.meta.dirname, '../controlplane');

/** Runs the cached promtool (building it first when missing). A non-zero exit is returned, not thrown. */
export async function promtool(args: readonly string[], options: { cwd?: string } = {}): Promise<ToolResult> {
  return runCommand(await cachedPath('promtool.sh'), args, { timeoutMs: 120_000, ...options });
}

/** The folder holding the Prometheus Operator's ServiceMonitor, PodMonitor and PrometheusRule CRDs, fetched from its Go module. */
export function prometheusOperatorCrdDir(): Promise<string> {
  return cachedPath('prometheus-operator-crds.sh');
}

/** A controlplane script's last stdout line: the cached file or folder (a cold promtool build takes minutes). */
function cachedPath(script: string): Promise<string> {
  return locateBuiltTool(path.join(CONTROLPLANE_DIR, script), fs.constants.R_OK);
}
