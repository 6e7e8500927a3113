/** The demo's knobs, from environment variables only (the demo takes no flags), validated in one place. */
export interface DemoSettings {
  /** Stop by itself after this long (for non-interactive runs); undefined runs until Ctrl-C. */
  durationSeconds?: number;
  /** Lifetime of the ECR emulator's tokens; ECR's own is 12 hours. */
  tokenLifetimeSeconds: number;
  /** How often the emulator moves the `latest` tag to a new build; 0 never does. */
  tagMoveSeconds: number;
  /**
   * Seconds between applying the ClusterEcrRegistry and creating namespace team-b with its label, to
   * show a namespace served as it is created; 0 creates no namespace.
   */
  namespaceSeconds: number;
  /** The ImageImport's re-check interval, replacing the sample's 1h so tag moves show up quickly. */
  importInterval: string;
  /** Keep the control plane's folder (operator log, kubeconfig, etcd data) after the demo. */
  keepFiles: boolean;
  /** Redraw one screen in place (a terminal) or append plain lines (a pipe or a log file). */
  liveScreen: boolean;
  color: boolean;
}

export const DEMO_ENV_HELP = [
  'DEMO_DURATION_SECONDS   stop after this many seconds (default: run until Ctrl-C)',
  'DEMO_TOKEN_SECONDS      lifetime of the emulated ECR tokens (default 60)',
  'DEMO_TAG_MOVE_SECONDS   move tag latest to a new build this often; 0 = never (default 30)',
  'DEMO_NAMESPACE_SECONDS  create namespace team-b this long after the ClusterEcrRegistry; 0 = never (default 20)',
  'DEMO_IMPORT_INTERVAL    ImageImport re-check interval, 10s or more (default 10s)',
  'DEMO_KEEP_FILES=1       keep the operator log and kubeconfig after the demo',
  'DEMO_PLAIN=1            append lines instead of redrawing the screen',
];

export class DemoSettingsError extends Error {}

export function readDemoSettings(env: Readonly<Record<string, string | undefined>>, isTty: boolean): DemoSettings {
  const duration = optionalNumber(env, 'DEMO_DURATION_SECONDS', 1, 24 * 3600);
  const importInterval = (env.DEMO_IMPORT_INTERVAL ?? '10s').trim();
  if (!/^(\d+(ms|s|m|h))+$/.test(importInterval)) {
    throw new DemoSettingsError(`DEMO_IMPORT_INTERVAL=${JSON.stringify(importInterval)} must be a duration such as 10s or 1m`);
  }
  const liveScreen = isTty && env.DEMO_PLAIN !== '1' && env.TERM !== 'dumb';
  return {
    ...(duration !== undefined ? { durationSeconds: duration } : {}),
    // Refresh happens at half the lifetime, so a token shorter than this would churn faster than the view.
    tokenLifetimeSeconds: optionalNumber(env, 'DEMO_TOKEN_SECONDS', 10, 43_200) ?? 60,
    tagMoveSeconds: optionalNumber(env, 'DEMO_TAG_MOVE_SECONDS', 0, 3600) ?? 30,
    namespaceSeconds: optionalNumber(env, 'DEMO_NAMESPACE_SECONDS', 0, 3600) ?? 20,
    importInterval,
    keepFiles: env.DEMO_KEEP_FILES === '1',
    liveScreen,
    // https://no-color.org
    color: liveScreen && (env.NO_COLOR ?? '') === '',
  };
}

function optionalNumber(env: Readonly<Record<string, string | undefined>>, name: string, min: number, max: number): number | undefined {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new DemoSettingsError(`${name}=${JSON.stringify(text)} must be a number of seconds from ${min} to ${max}`);
  }
  return value;
}
