/**
 * `npm run demo`: the operator's live demo on one machine, with nothing to install beyond `npm ci`.
 *
 * It starts a real control plane (etcd + kube-apiserver, through the test harness), the ECR emulator
 * with short-lived tokens and an image in it, and the operator as a separate process started as the
 * container starts it; applies deploy/samples with the real kubectl; then shows, once a second, each
 * pull secret's token being replaced before it expires and the imported image's digests, while the
 * emulator now and then moves a tag. Once the samples are Ready it applies a ClusterEcrRegistry that
 * selects namespaces by label, and later creates namespace team-b with that label, timing how long
 * team-b waits for a working pull secret. Ctrl-C (or DEMO_DURATION_SECONDS) stops everything it started.
 *
 * It lives under test/ because it is built from the test harness and the ECR emulator.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ControlPlane, selectedKubernetesVersion, startControlPlane } from '../support/controlplane/index.ts';
import { freePort } from '../support/controlplane/ports.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { type EmulatorImage, pushDemoBuild } from './images.ts';
import { ClusterScene } from './cluster-scene.ts';
import { ClusterObserver, type Snapshot } from './observer.ts';
import { describeExit, OperatorProcess } from '../support/operator-process.ts';
import { CLUSTER_SAMPLE, clusterRegistrySample, loadSamples, sampleTarget, toYamlStream, wireSamplesToEmulator } from './samples.ts';
import { DEMO_ENV_HELP, type DemoSettings, DemoSettingsError, readDemoSettings } from './settings.ts';
import { Timeline } from './timeline.ts';
import { LiveScreen, PlainLog, type View, type ViewContext } from './view.ts';

const NAMESPACE = 'ecr-demo';
/** Where the operator's leader election Lease lives, as in deploy/. */
const OPERATOR_NAMESPACE = 'ecr-pullsecrets-system';

const INTRO = [
  'ecr-pullsecrets-operator keeps image pull secrets for private Amazon ECR registries valid. ECR login tokens expire after 12 hours,',
  'so for each EcrRegistry the operator mints a new token with your AWS keys and rewrites the pull secret long before that; each',
  'ImageImport resolves ECR tags to pinned digests; a ClusterEcrRegistry keeps one pull secret in every namespace whose labels match.',
  'This demo runs it all locally, against an ECR emulator whose tokens live {TOKEN}.',
];

function intro(settings: DemoSettings): string[] {
  return INTRO.map((line) => line.replace('{TOKEN}', `only ${settings.tokenLifetimeSeconds} s`));
}

const out = process.stdout;
const say = (line = '') => out.write(`${line}\n`);

class StopRequested extends Error {}

/** Everything the demo started, stopped in reverse order exactly once. */
class Demo {
  readonly startedAtMs = performance.timeOrigin;
  readonly stop = new AbortController();
  private readonly keepFiles: boolean;
  controlPlane: ControlPlane | undefined;
  emulator: EcrEmulator | undefined;
  operator: OperatorProcess | undefined;
  view: View | undefined;
  private teardownResult: Promise<string[]> | undefined;

  constructor(keepFiles: boolean) {
    this.keepFiles = keepFiles;
  }

  checkpoint(): void {
    if (this.stop.signal.aborted) throw new StopRequested();
  }

  teardown(): Promise<string[]> {
    this.teardownResult ??= this.#teardown();
    return this.teardownResult;
  }

  async #teardown(): Promise<string[]> {
    this.view?.close();
    const report: string[] = [];
    if (this.operator) {
      const exit = await this.operator.stop();
      const took = exit.tookMs < 1000 ? `${exit.tookMs} ms` : `${(exit.tookMs / 1000).toFixed(1)} s`;
      report.push(this.operator.crashed ? `operator had exited (${describeExit(exit)})` : `operator (SIGTERM) exited with ${describeExit(exit)} in ${took}`);
    }
    if (this.emulator) {
      await this.emulator.stop();
      report.push('ECR emulator stopped');
    }
    if (this.controlPlane) {
      const kept = this.controlPlane.tempDir;
      await this.controlPlane.stop();
      report.push(`control plane stopped, ${this.keepFiles ? `files kept in ${kept}` : 'temporary files removed'}`);
    }
    return report;
  }
}

async function main(): Promise<number> {
  let settings: DemoSettings;
  try {
    settings = readDemoSettings(process.env, out.isTTY === true);
  } catch (error) {
    if (!(error instanceof DemoSettingsError)) throw error;
    process.stderr.write(`npm run demo: ${error.message}\nSettings:\n${DEMO_ENV_HELP.map((l) => `  ${l}`).join('\n')}\n`);
    return 2;
  }
  const demo = new Demo(settings.keepFiles);
  for (const line of intro(settings)) say(line);
  say();

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    // npm forwards the terminal's Ctrl-C too, so one press can arrive twice; a third means "now".
    if (signals >= 3) process.exit(130);
    if (!demo.stop.signal.aborted) demo.stop.abort(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  let failure: string | undefined;
  let timeline: Timeline | undefined;
  let scene: ClusterScene | undefined;
  let imageUpdates = 0;
  try {
    const started = await startEverything(demo, settings);
    timeline = started.timeline;
    scene = started.scene;
    const result = await watch(demo, settings, started);
    failure = result.failure;
    imageUpdates = result.imageUpdates;
  } catch (error) {
    // A Ctrl-C while starting up also reaches the control plane's processes, so what fails then is no news.
    if (!(error instanceof StopRequested) && !demo.stop.signal.aborted) failure = error instanceof Error ? error.message : String(error);
  }
  demo.view?.close();
  if (demo.stop.signal.aborted && demo.stop.signal.reason !== 'duration') say(`\nStopping (${String(demo.stop.signal.reason)})…`);
  if (failure) say(`\nThe demo failed: ${failure}`);
  if (timeline) printSummary(timeline, settings, imageUpdates, demo, scene);
  const report = await demo.teardown();
  say(report.length > 0 ? `Stopped: ${report.join('; ')}.` : 'Stopped.');
  return failure ? 1 : 0;
}

interface Started {
  timeline: Timeline;
  observer: ClusterObserver;
  scene: ClusterScene;
  context: ViewContext;
  image: EmulatorImage;
}

async function startEverything(demo: Demo, settings: DemoSettings): Promise<Started> {
  const timeline = new Timeline(demo.startedAtMs);
  const step = (n: number, text: string) => say(`[${n}/5] ${text}`);
  const detail = (text: string) => say(`      ${text}`);

  step(1, `Starting a Kubernetes control plane: etcd and kube-apiserver v${selectedKubernetesVersion()} (built from Go modules on the first run, about 15 minutes; cached after that).`);
  const controlPlane = await startControlPlane({ keepTempDir: settings.keepFiles });
  demo.controlPlane = controlPlane;
  detail(`${controlPlane.server} ready in ${(controlPlane.startupMs / 1000).toFixed(1)}s, with the CRDs from crds/ installed`);
  demo.checkpoint();

  const samples = await loadSamples();
  const target = sampleTarget(samples);
  step(2, `Starting the ECR emulator (tokens live ${settings.tokenLifetimeSeconds}s) and pushing an image for the samples to import.`);
  const emulator = await EcrEmulator.start({ tokenLifetimeSeconds: settings.tokenLifetimeSeconds });
  demo.emulator = emulator;
  const key = emulator.addAccessKey({ accountId: target.accountId, region: target.region, userName: 'ecr-demo' });
  emulator.createRepository({ accountId: target.accountId, region: target.region, name: target.repository });
  const image: EmulatorImage = { emulator, accountId: target.accountId, region: target.region, repository: target.repository, builds: 0 };
  const pushed = pushDemoBuild(image, target.tags);
  detail(`${emulator.url} serves the ECR API and registry for ${target.registry.spec.registry}`);
  detail(`pushed ${target.repository}: an OCI index for ${pushed.platforms.join(' and ')}, tags ${target.tags.join(', ')} -> ${pushed.digest.slice(0, 19)}`);
  demo.checkpoint();

  step(3, 'Starting the operator as a separate process, with the same command as its container:');
  const operator = await OperatorProcess.start({
    kubeconfigPath: controlPlane.kubeconfigPath,
    allowedEndpoints: [emulator.url],
    flags: ['--leader-elect=true', `--leader-election-namespace=${OPERATOR_NAMESPACE}`],
    detached: true,
    metricsPort: await freePort(),
    healthPort: await freePort(),
    logPath: path.join(controlPlane.tempDir, 'operator.log'),
  });
  demo.operator = operator;
  detail(operator.commandLine());
  // The Lease's namespace, which deploy/ would have created; the operator starts competing meanwhile.
  await kubectlOrThrow(controlPlane, ['create', 'namespace', OPERATOR_NAMESPACE]);
  const readyMs = await operator.waitUntilReady();
  detail(`ready (/readyz: caches synced) in ${(readyMs / 1000).toFixed(1)}s; its JSON log is ${operator.logPath}`);
  demo.checkpoint();

  step(4, `Applying deploy/samples with the real kubectl into namespace ${NAMESPACE}, changed in memory only as follows:`);
  const { objects, changes } = wireSamplesToEmulator(samples, {
    endpoint: emulator.url,
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    importInterval: settings.importInterval,
  });
  for (const change of changes) detail(`- ${change}`);
  detail(`$ kubectl create namespace ${NAMESPACE}`);
  detail(await kubectlOrThrow(controlPlane, ['create', 'namespace', NAMESPACE]));
  detail(`$ kubectl apply -n ${NAMESPACE} -f <deploy/samples>`);
  for (const line of (await kubectlOrThrow(controlPlane, ['apply', '-n', NAMESPACE, '-f', '-'], toYamlStream(objects))).split('\n')) detail(line);
  demo.checkpoint();

  step(5, settings.liveScreen ? 'Watching (the screen now redraws every second).' : 'Watching: each change is printed as it happens, with a status line every 10 seconds.');
  const checkLogin = (host: string, username: string, password: string) => registryAnswer(emulator, host, username, password);
  const observer = new ClusterObserver({ kubeConfig: controlPlane.kubeConfig(), namespace: NAMESPACE, metricsUrl: operator.metricsUrl, checkLogin });
  const scene = new ClusterScene({
    kubeConfig: controlPlane.kubeConfig(),
    kubectl: (args, stdin) => kubectlOrThrow(controlPlane, args, stdin),
    objects: clusterRegistrySample({
      registry: target.registry.spec.registry,
      endpoint: emulator.url,
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      credentialsNamespace: OPERATOR_NAMESPACE,
    }),
    namespaceSeconds: settings.namespaceSeconds,
    timeline,
    checkLogin,
    tokenCalls: () => emulator.callCount({ action: 'GetAuthorizationToken' }),
    signal: demo.stop.signal,
  });
  const liveNamespace = settings.namespaceSeconds > 0 ? `, and ${settings.namespaceSeconds}s later creates namespace ${CLUSTER_SAMPLE.liveNamespace} with that label` : '';
  detail(
    `Once the samples are Ready, it applies ClusterEcrRegistry ${CLUSTER_SAMPLE.name} (test/demo/samples.ts) for namespaces labelled ${scene.state.selector}, with namespace ${CLUSTER_SAMPLE.firstNamespace}${liveNamespace}.`,
  );
  const kubectlHint = [
    `export KUBECONFIG=${controlPlane.kubeconfigPath} PATH=${controlPlane.binaries.dir}:$PATH`,
    `kubectl get ecrregistries,imageimports,secrets,events -n ${NAMESPACE}`,
    `kubectl get clusterecrregistries; kubectl get secrets -A -l ecr.pullsecrets.io/cluster-registry=${CLUSTER_SAMPLE.name}`,
  ];
  detail('Look around in another terminal with the real kubectl:');
  for (const line of kubectlHint) detail(`  ${line}`);
  return {
    timeline,
    observer,
    scene,
    image,
    context: { intro: intro(settings), namespace: NAMESPACE, tokenLifetimeSeconds: settings.tokenLifetimeSeconds, kubectlHint, cluster: scene.state },
  };
}

/** The live loop: a snapshot a second, tag moves now and then, until a signal or the duration ends it. */
async function watch(demo: Demo, settings: DemoSettings, started: Started): Promise<{ failure?: string; imageUpdates: number }> {
  const { timeline, observer, scene, image } = started;
  const view: View = settings.liveScreen ? new LiveScreen(out, settings.color) : new PlainLog(out);
  demo.view = view;
  const stopAtMs = settings.durationSeconds !== undefined ? demo.startedAtMs + settings.durationSeconds * 1000 : undefined;
  const context: ViewContext = { ...started.context, ...(stopAtMs !== undefined ? { stopAtMs } : {}) };
  let imageUpdates = 0;
  let shown = 0;
  let previous: Snapshot | undefined;
  while (!demo.stop.signal.aborted) {
    const operator = demo.operator!;
    if (operator.crashed) {
      return { failure: `the operator exited unexpectedly (${operator.exitDescription()}); the end of its log:\n${operator.logTail(20)}`, imageUpdates };
    }
    const now = Date.now();
    if (settings.tagMoveSeconds > 0 && timeline.firstImportAtMs !== undefined) {
      context.nextTagMoveAtMs ??= now + settings.tagMoveSeconds * 1000;
      if (now >= context.nextTagMoveAtMs) {
        const build = pushDemoBuild(image, ['latest']);
        imageUpdates += 1;
        timeline.note(
          `The emulator received a new build of ${image.repository} and moved tag latest to ${build.digest.slice(0, 19)}; the operator re-checks tags every ${settings.importInterval}.`,
          'info',
        );
        context.nextTagMoveAtMs = now + settings.tagMoveSeconds * 1000;
      }
    }
    // Before the snapshot, so this frame already shows what the scene just applied or created.
    if (previous) await scene.step(previous);
    const snapshot: Snapshot = await observer.snapshot();
    previous = snapshot;
    timeline.update(snapshot);
    // Everything noted since the last frame: this snapshot's changes and the tag move above.
    view.update(snapshot, timeline.moments.slice(shown), context, timeline);
    shown = timeline.moments.length;
    if (stopAtMs !== undefined && Date.now() >= stopAtMs) {
      demo.stop.abort('duration');
      break;
    }
    await sleep(1_000, undefined, { signal: demo.stop.signal }).catch(() => undefined);
  }
  view.close();
  await scene.settle();
  return { ...verdict(timeline, settings, scene), imageUpdates };
}

/** A run that stops by itself is a test: it fails when a pull secret never came, expired, was refused, or never rotated. */
function verdict(timeline: Timeline, settings: DemoSettings, scene: ClusterScene): { failure?: string } {
  if (timeline.expiredSamples > 0) return { failure: `a pull secret held an expired token in ${timeline.expiredSamples} samples` };
  if (timeline.refusedSamples > 0) return { failure: `the registry refused a pull secret's login in ${timeline.refusedSamples} samples` };
  if (timeline.lostPullSecrets > 0) return { failure: `a namespace the ClusterEcrRegistry still selects lost its pull secret ${timeline.lostPullSecrets} times` };
  const sceneFailure = scene.failure();
  if (sceneFailure) return { failure: sceneFailure };
  if (settings.durationSeconds === undefined) return {};
  if (timeline.firstSecretAtMs === undefined) return { failure: `no pull secret appeared within ${settings.durationSeconds}s` };
  if (timeline.firstRotationAtMs === undefined && settings.durationSeconds >= settings.tokenLifetimeSeconds + 20) {
    return { failure: `no pull secret was rotated within ${settings.durationSeconds}s although tokens live ${settings.tokenLifetimeSeconds}s` };
  }
  return {};
}

function printSummary(timeline: Timeline, settings: DemoSettings, imageUpdates: number, demo: Demo, scene: ClusterScene | undefined): void {
  const at = (ms: number | undefined) => (ms === undefined ? 'not reached' : `${((ms - timeline.startedAtMs) / 1000).toFixed(1)}s after start`);
  const ranFor = ((Date.now() - timeline.startedAtMs) / 1000).toFixed(0);
  say();
  say(`Summary of this ${ranFor}s run:`);
  say(`  first pull secret      ${at(timeline.firstSecretAtMs)}`);
  const afterFirst =
    timeline.firstRotationAtMs !== undefined && timeline.firstSecretAtMs !== undefined
      ? ` (${((timeline.firstRotationAtMs - timeline.firstSecretAtMs) / 1000).toFixed(1)}s after the first token; tokens live ${settings.tokenLifetimeSeconds}s and are replaced at about half their life)`
      : '';
  say(`  first rotated secret   ${at(timeline.firstRotationAtMs)}${afterFirst}`);
  const least = Number.isFinite(timeline.minRemainingMs) ? `; the least lifetime left on a served token was ${(timeline.minRemainingMs / 1000).toFixed(0)}s` : '';
  say(`  rotations              ${timeline.totalRotations()}${least}`);
  say(`  expired or refused     ${timeline.expiredSamples + timeline.refusedSamples} of ${timeline.samples} samples of the pull secrets`);
  if (scene) {
    const cluster = scene.state;
    const applied = cluster.appliedAtMs === undefined ? 'not applied (the samples never became Ready)' : `applied ${at(cluster.appliedAtMs)}`;
    say(`  ClusterEcrRegistry     ${cluster.registry} ${applied}; first pull secret ${at(timeline.firstClusterSecretAtMs)}; rotations ${timeline.clusterRotations(cluster.registry)}`);
    say(`  ${`namespace ${cluster.liveNamespace}`.padEnd(23)}${describeArrival(scene, settings)}`);
  }
  say(`  tag moves              ${imageUpdates} pushed by the emulator, ${timeline.tagMovesSeen} noticed by the operator`);
  if (demo.emulator) {
    const calls = ['GetAuthorizationToken', 'BatchGetImage', 'DescribeImages'].map((action) => `${action} ${demo.emulator!.callCount({ action })}`);
    say(`  ECR API calls          ${calls.join(', ')} (as the emulator counted them)`);
  }
}

function describeArrival(scene: ClusterScene, settings: DemoSettings): string {
  const arrival = scene.state.arrival;
  if (settings.namespaceSeconds === 0) return 'not created (DEMO_NAMESPACE_SECONDS=0)';
  if (!arrival) return 'not created before the demo stopped';
  if (arrival.workingAfterMs !== undefined) {
    return `pull secret written ${arrival.writtenAfterMs} ms and working at the registry ${arrival.workingAfterMs} ms after the namespace was created`;
  }
  return arrival.writtenAfterMs !== undefined ? `pull secret written after ${arrival.writtenAfterMs} ms but never accepted by the registry` : 'no pull secret appeared';
}

async function kubectlOrThrow(controlPlane: ControlPlane, args: string[], stdin?: string): Promise<string> {
  const result = await controlPlane.kubectl(args, stdin === undefined ? {} : { stdin });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** `GET /v2/` with the pull secret's login, as the kubelet's first request to the registry. */
async function registryAnswer(emulator: EcrEmulator, host: string, username: string, password: string): Promise<number> {
  const [accountId, , , region] = host.split('.');
  const response = await fetch(`${emulator.registryUrl(accountId ?? '', region ?? '')}/v2/`, {
    headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
    signal: AbortSignal.timeout(2_000),
  });
  await response.arrayBuffer();
  return response.status;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // The live screen hides the cursor; give it back whatever happened.
    if (out.isTTY) out.write('\u001b[?25h');
    process.stderr.write(`npm run demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
