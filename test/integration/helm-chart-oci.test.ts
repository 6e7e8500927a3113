import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { trackPid, untrackPid } from '../support/controlplane/cleanup.ts';
import { type HelmResult, helm } from '../support/helm.ts';
import { locateBuiltTool, runCommandOk } from '../support/run-command.ts';

/**
 * README "Publish the chart to an OCI registry": `helm package`, `helm push` to an OCI registry, and
 * installing from `oci://`, with the real helm (test/controlplane/helm.sh) and, as the registry,
 * go-containerregistry's `crane registry serve` on loopback (test/controlplane/crane.sh).
 */

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../..');
const CHART_DIR = path.join(REPOSITORY_ROOT, 'deploy', 'chart');
const CRANE_SCRIPT = path.join(REPOSITORY_ROOT, 'test', 'controlplane', 'crane.sh');
/** The media types Helm gives a chart in an OCI registry (helm.sh/docs/topics/registries). */
const HELM_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
const HELM_CHART_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';


/** The cached crane binary: crane.sh's last stdout line (a cold build takes about two minutes). */
function locateCrane(): Promise<string> {
  return locateBuiltTool(CRANE_SCRIPT);
}

async function crane(binary: string, args: readonly string[]): Promise<string> {
  return (await runCommandOk(binary, args, { timeoutMs: 60_000 })).stdout;
}

/** `crane registry serve` on a free loopback port, in memory; resolves with its host:port once it listens. */
function serveRegistry(binary: string): Promise<{ host: string; process: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['registry', 'serve', '--address', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.pid !== undefined) trackPid(child.pid);
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crane registry serve did not listen within 10 s:\n${log}`));
    }, 10_000);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      const port = /serving on port (\d+)/.exec(log)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ host: `127.0.0.1:${port}`, process: child });
      }
    });
    child.once('exit', (code) => {
      if (child.pid !== undefined) untrackPid(child.pid);
      clearTimeout(timer);
      reject(new Error(`crane registry serve exited with ${code}:\n${log}`));
    });
  });
}

function expectOk(result: HelmResult, what: string): string {
  expect(result.code, `${what}:\n${result.stderr}${result.stdout}`).to.equal(0);
  return result.stdout;
}

describe('the Helm chart published as an OCI artifact (helm package, helm push, oci://)', function () {
  this.timeout(60_000);
  let tempDir: string;
  let craneBinary: string;
  let registry: { host: string; process: ChildProcess };
  let chart: { name: string; version: string; appVersion: string };
  let packaged: string;
  let pushed: { reference: string; digest: string };
  /** Helm's registry login file, cache and config in the temp folder, not the user's. */
  let helmEnv: Record<string, string>;

  before(async function () {
    this.timeout(30 * 60_000);
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-chart-oci-'));
    helmEnv = {
      HELM_CONFIG_HOME: path.join(tempDir, 'helm-config'),
      HELM_CACHE_HOME: path.join(tempDir, 'helm-cache'),
      HELM_DATA_HOME: path.join(tempDir, 'helm-data'),
    };
    chart = load(await fs.readFile(path.join(CHART_DIR, 'Chart.yaml'), 'utf8')) as typeof chart;
    craneBinary = await locateCrane();
    registry = await serveRegistry(craneBinary);
  });

  after(async () => {
    registry?.process.kill('SIGTERM');
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
  });

  it('packages the chart and pushes it with `helm push <tgz> oci://<registry>/charts`', async () => {
    const output = expectOk(await helm(['package', CHART_DIR, '--destination', tempDir], { env: helmEnv }), 'helm package');
    packaged = path.join(tempDir, `${chart.name}-${chart.version}.tgz`);
    expect(output).to.include(packaged);
    // crane's registry speaks plain HTTP on loopback; a real registry needs neither flag.
    const push = await helm(['push', packaged, `oci://${registry.host}/charts`, '--plain-http'], { env: helmEnv });
    const text = expectOk(push, 'helm push') + push.stderr;
    const reference = /Pushed: (\S+)/.exec(text)?.[1];
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(text)?.[1];
    expect(reference).to.equal(`${registry.host}/charts/${chart.name}:${chart.version}`);
    expect(digest).to.be.a('string');
    pushed = { reference: reference!, digest: digest! };
  });

  it('is stored with Helm\'s OCI media types: the Chart.yaml as config, the package as the one layer', async () => {
    expect((await crane(craneBinary, ['digest', '--insecure', pushed.reference])).trim()).to.equal(pushed.digest);
    const manifest = JSON.parse(await crane(craneBinary, ['manifest', '--insecure', pushed.reference])) as {
      schemaVersion: number;
      config: { mediaType: string };
      layers: Array<{ mediaType: string; digest: string; size: number }>;
      annotations?: Record<string, string>;
    };
    expect(manifest.schemaVersion).to.equal(2);
    expect(manifest.config.mediaType).to.equal(HELM_CONFIG_MEDIA_TYPE);
    expect(manifest.layers.map((l) => l.mediaType)).to.deep.equal([HELM_CHART_MEDIA_TYPE]);
    const tgz = await fs.readFile(packaged);
    expect(manifest.layers[0]!.digest, 'the layer is the packaged .tgz, byte for byte').to.equal(`sha256:${createHash('sha256').update(tgz).digest('hex')}`);
    expect(manifest.layers[0]!.size).to.equal(tgz.length);
    expect(manifest.annotations?.['org.opencontainers.image.version']).to.equal(chart.version);
    const config = JSON.parse(await crane(craneBinary, ['config', '--insecure', pushed.reference])) as typeof chart;
    expect({ name: config.name, version: config.version, appVersion: config.appVersion }).to.deep.equal({
      name: chart.name,
      version: chart.version,
      appVersion: chart.appVersion,
    });
  });

  it('renders from oci:// exactly as from deploy/chart, CRDs included', async () => {
    const args = ['--namespace', 'ecr-pullsecrets-system', '--include-crds'];
    const local = expectOk(await helm(['template', 'ecr-pullsecrets-operator', CHART_DIR, ...args], { env: helmEnv }), 'helm template deploy/chart');
    const remote = expectOk(
      await helm(['template', 'ecr-pullsecrets-operator', `oci://${registry.host}/charts/${chart.name}`, '--version', chart.version, '--plain-http', ...args], { env: helmEnv }),
      'helm template oci://',
    );
    expect(local).to.include('kind: Deployment');
    expect(local).to.include('kind: CustomResourceDefinition');
    expect(remote).to.equal(local);
  });

  it('pulls back, by digest, the package that was pushed', async () => {
    const pulled = path.join(tempDir, 'pulled');
    await fs.mkdir(pulled);
    const reference = `oci://${registry.host}/charts/${chart.name}@${pushed.digest}`;
    expectOk(await helm(['pull', reference, '--plain-http', '--destination', pulled], { env: helmEnv }), 'helm pull');
    const files = await fs.readdir(pulled);
    expect(files).to.have.length(1);
    expect(await fs.readFile(path.join(pulled, files[0]!))).to.deep.equal(await fs.readFile(packaged));
  });
});
