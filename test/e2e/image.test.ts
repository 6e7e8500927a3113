import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { deleteRegistry, createCredentialsSecret, createRegistry, getRegistry, pullSecretPassword, readSecret, readyCondition, registryGone } from '../support/fixtures.ts';
import { pinnedControlPlanes, selectedKubernetesVersion } from '../support/controlplane/index.ts';
import { parseDockerfile, type ImageLayout } from '../support/dockerfile.ts';
import { type AccessKey, EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { runCommand } from '../support/run-command.ts';
import { readOciImage, layerDigests, layerEntries, type OciImage, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, unpackLayers, whiteouts } from './support/oci-layout.ts';
import { forbiddenLines, killAllOperatorProcesses, type OperatorProcess, startOperatorProcess } from './support/operator-process.ts';
import {
  containerEnv,
  deployedOperator,
  installShippedManifests,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  REPOSITORY_ROOT,
  withFlags,
} from './support/shipped-install.ts';

const BUILD_SCRIPT = path.join(REPOSITORY_ROOT, 'deploy', 'image', 'build.sh');
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
/** Where the kubelet mounts a pod's ServiceAccount token, CA and namespace; client-node's in-cluster config reads them. */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Build {
  digest: string;
  layoutDir: string;
  ms: number;
  log: string;
}

/** `npm run image` into `layoutDir`; its last stdout line is the manifest digest. */
async function buildImage(layoutDir: string, options: { umask?: string; tmpDir?: string } = {}): Promise<Build> {
  const started = Date.now();
  const script = `umask ${options.umask ?? '022'} && exec bash "$0" --output "$1"`;
  const { code, stdout, stderr } = await runCommand('bash', ['-c', script, BUILD_SCRIPT, layoutDir], {
    cwd: REPOSITORY_ROOT,
    ...(options.tmpDir ? { env: { TMPDIR: options.tmpDir } } : {}),
    timeoutMs: 15 * 60_000,
  });
  const digest = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`${BUILD_SCRIPT} exited with ${code}:\n${stderr.slice(-4000)}`);
  return { digest, layoutDir, ms: Date.now() - started, log: stderr };
}

/** The Dockerfile's final stage, as the image config must reproduce it. */
async function finalStage(): Promise<{ entrypoint: string[]; workdir: string; env: Record<string, string>; user?: string; exposed: string[]; nodeVersion: string }> {
  const instructions = parseDockerfile(await fs.readFile(path.join(REPOSITORY_ROOT, 'Dockerfile'), 'utf8'));
  const lastFrom = instructions.findLastIndex((i) => i.keyword === 'FROM');
  const stage = instructions.slice(lastFrom);
  const nodeVersion = /^node:(\d+\.\d+\.\d+)-/.exec(stage[0]!.args)?.[1];
  if (!nodeVersion) throw new Error(`the Dockerfile's final FROM is not node:<x.y.z>-...: ${stage[0]!.args}`);
  let workdir = '/';
  let user: string | undefined;
  let entrypoint: string[] = [];
  const env: Record<string, string> = {};
  const exposed: string[] = [];
  for (const { keyword, args } of stage) {
    if (keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, args);
    if (keyword === 'USER') user = args;
    if (keyword === 'ENTRYPOINT') entrypoint = JSON.parse(args) as string[];
    if (keyword === 'EXPOSE') exposed.push(...args.split(/\s+/).map((port) => (port.includes('/') ? port : `${port}/tcp`)));
    if (keyword === 'ENV') {
      const [name, ...value] = args.split('=');
      env[name!] = value.join('=');
    }
  }
  return { entrypoint, workdir, env, user, exposed, nodeVersion };
}

function envRecord(env: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

/** A hash of what `npm run build` bundles (src/, package.json, package-lock.json), to tell a changed source from an unreproducible build. */
async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = [...(await fs.readdir(path.join(REPOSITORY_ROOT, 'src'), { recursive: true })).map((f) => path.join('src', f)), 'package.json', 'package-lock.json'].sort();
  for (const file of files) {
    const full = path.join(REPOSITORY_ROOT, file);
    if (!(await fs.stat(full)).isFile()) continue;
    hash.update(`${file}\0`).update(await fs.readFile(full)).update('\0');
  }
  return hash.digest('hex');
}

/** Every path under `root` (not following links), relative, with its lstat. */
async function walk(root: string): Promise<Array<{ path: string; stat: Stats }>> {
  const found: Array<{ path: string; stat: Stats }> = [];
  const visit = async (relative: string) => {
    for (const entry of await fs.readdir(path.join(root, relative))) {
      const child = path.posix.join(relative, entry);
      const stat = await fs.lstat(path.join(root, child));
      found.push({ path: `/${child}`, stat });
      if (stat.isDirectory()) await visit(child);
    }
  };
  await visit('');
  return found;
}

describe('the image from `npm run image` (deploy/image/build.sh), no Docker daemon', function () {
  this.timeout(120_000);
  let tempDir: string;
  let build: Build;
  let image: OciImage;
  let rootDir: string;
  let sourcesBuilt: string;
  const figures: string[] = [];

  before(async function () {
    // A cold run builds crane and downloads the Debian packages first.
    this.timeout(15 * 60_000);
    if (process.getuid?.() !== 0) {
      process.stderr.write('      skipped: unpacking the image with its owners and running it in a chroot needs root\n');
      this.skip();
    }
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-oci-'));
    sourcesBuilt = await sourceHash();
    build = await buildImage(path.join(tempDir, 'first'));
    image = await readOciImage(build.layoutDir);
    rootDir = path.join(tempDir, 'rootfs');
    await unpackLayers(image, rootDir);
    const compressed = image.manifest.layers.reduce((sum, layer) => sum + layer.size, image.manifest.config.size);
    const unpacked = (await walk(rootDir)).reduce((sum, entry) => sum + (entry.stat.isFile() ? entry.stat.size : 0), 0);
    figures.push(`build: ${build.ms} ms; image ${build.digest}: ${(compressed / 2 ** 20).toFixed(1)} MiB compressed, ${(unpacked / 2 ** 20).toFixed(1)} MiB unpacked`);
  });

  after(async () => {
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
    if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}`).join('\n')}\n`);
  });

  it('is an OCI image layout whose blobs match their digests, with gzip layers and no whiteouts', async () => {
    expect(image.manifestDescriptor.digest, 'the digest build.sh printed is the layout\'s manifest').to.equal(build.digest);
    expect(image.manifestDescriptor.annotations?.['org.opencontainers.image.ref.name']).to.equal(image.config.config.Labels?.['org.opencontainers.image.version']);
    expect(image.manifest.mediaType).to.equal(OCI_MANIFEST);
    expect(image.manifest.config.mediaType).to.equal(OCI_CONFIG);
    expect(image.config.rootfs.diff_ids).to.have.length(image.manifest.layers.length);
    expect(image.config.history, 'a history entry per layer').to.have.length(image.manifest.layers.length);
    for (const [index, layer] of image.manifest.layers.entries()) {
      expect(layer.mediaType).to.equal(OCI_LAYER_GZIP);
      const digests = await layerDigests(image, layer);
      expect(digests.digest, `layer ${index}'s blob`).to.equal(layer.digest);
      expect(digests.size, `layer ${index}'s size`).to.equal(layer.size);
      expect(digests.diffId, `layer ${index}'s uncompressed tar is the config's diff_id`).to.equal(image.config.rootfs.diff_ids[index]);
      expect(whiteouts(await layerEntries(image, layer)), `layer ${index}'s whiteouts`).to.deep.equal([]);
    }
  });

  it('is configured as the Dockerfile\'s final stage: ENTRYPOINT, USER 1000:1000, WORKDIR, ENV, EXPOSE', async () => {
    const dockerfile = await finalStage();
    const { config } = image.config;
    expect(image.config.os).to.equal('linux');
    expect(image.config.architecture).to.equal('amd64');
    expect(config.User).to.equal('1000:1000');
    expect(config.User).to.equal(dockerfile.user);
    expect(config.WorkingDir).to.equal(dockerfile.workdir);
    const env = envRecord(config.Env);
    for (const [name, value] of Object.entries(dockerfile.env)) expect(env[name], `ENV ${name}`).to.equal(value);
    expect(env.NODE_ENV).to.equal('production');
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).to.deep.equal([...dockerfile.exposed].sort());
    expect(dockerfile.exposed.sort()).to.deep.equal(['8080/tcp', '8081/tcp']);
    expect(config.Cmd ?? [], 'no Cmd: the Deployment\'s args follow the entrypoint').to.deep.equal([]);
    // The image writes the Dockerfile's ENTRYPOINT out absolute (chroot(1), like any runtime that
    // ignores WORKDIR, starts in /): its program is what the image's PATH finds, and each relative
    // file argument is that file in WORKDIR.
    const searchPath = (env.PATH ?? '').split(':');
    const [program, ...args] = dockerfile.entrypoint;
    const resolvedProgram = searchPath.map((dir) => path.posix.join(dir, program!)).find((candidate) => existsSync(path.join(rootDir, candidate)));
    const resolvedArgs = args.map((arg) => {
      const inWorkdir = path.posix.resolve(dockerfile.workdir, arg);
      return !arg.startsWith('-') && existsSync(path.join(rootDir, inWorkdir)) ? inWorkdir : arg;
    });
    expect(config.Entrypoint).to.deep.equal([resolvedProgram, ...resolvedArgs]);
    expect(config.Entrypoint).to.deep.equal(['/usr/local/bin/node', '--max-semi-space-size=2', '--no-maglev', '--no-opt', '/app/operator.mjs']);
    const labels = config.Labels ?? {};
    const packageJson = JSON.parse(await fs.readFile(path.join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(labels['org.opencontainers.image.version']).to.equal(packageJson.version);
    expect(labels['org.opencontainers.image.source']).to.match(/^https:\/\//);
    expect(labels['org.opencontainers.image.revision']).to.match(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
    expect(labels['org.opencontainers.image.created']).to.equal(image.config.created);
    expect(image.manifest.annotations?.['org.opencontainers.image.revision']).to.equal(labels['org.opencontainers.image.revision']);
  });

  it('holds the bundle as pure ASCII, which V8 keeps as one byte per character for the life of the process', async () => {
    const bundle = await fs.readFile(path.join(rootDir, 'app', 'operator.mjs'));
    const first = bundle.findIndex((byte) => byte > 0x7f);
    // One character above 0x7f makes V8 hold the whole source as UTF-16: about 4 MiB more resident (issue 15).
    expect(first, first < 0 ? '' : `non-ASCII at byte ${first}: ${JSON.stringify(bundle.subarray(Math.max(0, first - 40), first + 40).toString('utf8'))}`).to.equal(-1);
  });

  it('pins the Dockerfile\'s base image by tag and digest, one for every stage, on the node devDependency\'s version', async () => {
    const instructions = parseDockerfile(await fs.readFile(path.join(REPOSITORY_ROOT, 'Dockerfile'), 'utf8'));
    const images = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]!);
    expect(images).to.have.length.at.least(2);
    for (const from of images) expect(from, 'FROM <image>:<tag>@sha256:<digest>').to.match(/^node:\d+\.\d+\.\d+-[a-z]+-slim@sha256:[0-9a-f]{64}$/);
    expect(new Set(images).size, 'one base image for every stage').to.equal(1);
    const packageJson = JSON.parse(await fs.readFile(path.join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    expect(packageJson.devDependencies.node, 'the node devDependency whose binary the image runs').to.equal(`^${(await finalStage()).nodeVersion}`);
  });

  it('holds no shell or other program but node, the same binary and version as the Dockerfile\'s base image', async () => {
    const dockerfile = await finalStage();
    const entries = await walk(rootDir);
    const executables = entries.filter((e) => e.stat.isFile() && (e.stat.mode & 0o111) !== 0).map((e) => e.path);
    // The dynamic loader and libc are executable files by Debian's packaging, not programs one can run here.
    expect(executables.filter((p) => !/^\/usr\/lib\/x86_64-linux-gnu\/(ld-linux-x86-64\.so\.2|libc\.so\.6)$/.test(p))).to.deep.equal(['/usr/local/bin/node']);
    for (const shell of ['/bin/sh', '/bin/bash', '/usr/bin/sh', '/bin/busybox']) expect(existsSync(path.join(rootDir, shell)), shell).to.equal(false);
    const node = await fs.readFile(path.join(rootDir, 'usr/local/bin/node'));
    expect(node.subarray(0, 4).toString('latin1'), 'node is an ELF binary, run without a shell').to.equal('\x7fELF');
    const installed = await fs.readFile(path.join(REPOSITORY_ROOT, 'node_modules/node/bin/node'));
    expect(createHash('sha256').update(node).digest('hex'), 'the `node` devDependency\'s binary').to.equal(createHash('sha256').update(installed).digest('hex'));
    const lock = await fs.readFile(path.join(REPOSITORY_ROOT, 'deploy/image/packages.lock'), 'utf8');
    expect(lock).to.match(new RegExp(`^node\\s+node\\s+${dockerfile.nodeVersion.replaceAll('.', '\\.')}\\s`, 'm'));
  });

  it('gives root every file but /home/node (the user\'s) and /tmp (1777), with users and CA certificates in /etc', async () => {
    const entries = await walk(rootDir);
    const notRoot = entries.filter((e) => e.stat.uid !== 0 || e.stat.gid !== 0).map((e) => `${e.path} ${e.stat.uid}:${e.stat.gid}`);
    expect(notRoot).to.deep.equal(['/home/node 1000:1000']);
    const worldWritable = entries.filter((e) => !e.stat.isSymbolicLink() && (e.stat.mode & 0o002) !== 0).map((e) => `${e.path} ${(e.stat.mode & 0o7777).toString(8)}`);
    expect(worldWritable).to.deep.equal(['/tmp 1777']);
    const passwd = await fs.readFile(path.join(rootDir, 'etc/passwd'), 'utf8');
    expect(passwd).to.match(/^node:x:1000:1000:[^:]*:\/home\/node:/m);
    expect(await fs.readFile(path.join(rootDir, 'etc/group'), 'utf8')).to.match(/^node:x:1000:$/m);
    const bundle = await fs.readFile(path.join(rootDir, 'etc/ssl/certs/ca-certificates.crt'), 'utf8');
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0, 'certificates in the CA bundle').to.be.greaterThan(100);
    expect(await fs.readFile(path.join(rootDir, 'etc/os-release'), 'utf8')).to.match(/^VERSION_CODENAME=bookworm$/m);
    const status = await fs.readdir(path.join(rootDir, 'var/lib/dpkg/status.d'));
    expect(status.sort()).to.include.members(['ca-certificates', 'libc6', 'libgcc-s1', 'libstdc++6']);
    const mtimes = new Set(entries.filter((e) => !e.stat.isSymbolicLink()).map((e) => e.stat.mtimeMs));
    expect(mtimes.size, 'one mtime for every file: SOURCE_DATE_EPOCH').to.equal(1);
  });

  it('builds to the same digest a second time, with another umask and temp folder', async function () {
    this.timeout(10 * 60_000);
    // The image does not depend on the Kubernetes version: the matrix's other runs skip the rebuild.
    if (selectedKubernetesVersion() !== pinnedControlPlanes()[0]!.kubernetes) {
      process.stderr.write(`      skipped on Kubernetes ${selectedKubernetesVersion()}: the run on ${pinnedControlPlanes()[0]!.kubernetes} rebuilds the image\n`);
      this.skip();
    }
    const otherTmp = path.join(tempDir, 'other-tmp');
    await fs.mkdir(otherTmp);
    const second = await buildImage(path.join(tempDir, 'second'), { umask: '077', tmpDir: otherTmp });
    figures.push(`second build: ${second.ms} ms`);
    if ((await sourceHash()) !== sourcesBuilt) throw new Error('src/ or package*.json changed between the two builds: run the test again on a tree nobody edits');
    const again = await readOciImage(second.layoutDir);
    // Layer by layer first, so a failure names the layer (base, node, app) that changed.
    expect(again.config.rootfs.diff_ids, 'the layers\' uncompressed tars (base, node, app)').to.deep.equal(image.config.rootfs.diff_ids);
    expect(again.manifest.layers.map((l) => l.digest), 'the compressed layers').to.deep.equal(image.manifest.layers.map((l) => l.digest));
    expect(second.digest).to.equal(build.digest);
  });

  describe('its entrypoint, run as uid 1000 in a chroot of the unpacked image against the test apiserver', () => {
    let emulator: EcrEmulator;
    let key: AccessKey;
    let namespace: string;
    let operator: OperatorProcess | undefined;

    before(async function () {
      this.timeout(120_000);
      emulator = await EcrEmulator.start();
      key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
      await installShippedManifests();
      namespace = await createTestNamespace('image-chroot');
    });

    after(async function () {
      this.timeout(60_000);
      try {
        if (operator && !operator.exitStatus() && namespace) {
          // Deleted while the operator runs, so it removes its finalizer.
          await deleteRegistry(namespace, 'from-image').catch(() => {});
          await eventually(async () => expect(await registryGone(namespace, 'from-image')).to.equal(true), { timeoutMs: 20_000, message: 'the EcrRegistry is finalized' }).catch(() => {});
        }
        await operator?.stop(10_000);
      } finally {
        await killAllOperatorProcesses();
        await emulator?.stop();
        if (namespace) await deleteTestNamespace(namespace);
      }
    });

    it('serves /readyz and writes an EcrRegistry\'s pull secret, as uid 1000 inside the image\'s root', async function () {
      this.timeout(120_000);
      // What the kubelet gives the container: the ServiceAccount's token and the cluster CA mounted
      // where client-node's in-cluster config reads them, and KUBERNETES_SERVICE_HOST/PORT.
      const secretsDir = path.join(rootDir, SERVICE_ACCOUNT_DIR);
      await fs.mkdir(secretsDir, { recursive: true, mode: 0o755 });
      const token = await testEnv().serviceAccountToken(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
      await fs.writeFile(path.join(secretsDir, 'token'), token, { mode: 0o644 });
      await fs.writeFile(path.join(secretsDir, 'ca.crt'), testEnv().caCertPem, { mode: 0o644 });
      await fs.writeFile(path.join(secretsDir, 'namespace'), OPERATOR_NAMESPACE, { mode: 0o644 });
      const server = new URL(testEnv().server);

      const { container } = await deployedOperator();
      const podName = `ecr-pullsecrets-operator-image-${randomBytes(3).toString('hex')}`;
      const chroot = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((candidate) => existsSync(candidate));
      if (!chroot) throw new Error('chroot (coreutils) is not installed');
      await fs.access(chroot, constants.X_OK);
      const imageEnv = envRecord(image.config.config.Env);
      const layout: ImageLayout = {
        rootDir,
        appDir: rootDir,
        // The image's ENTRYPOINT and USER, applied by chroot(1) as a runtime would.
        entrypoint: [chroot, `--userspec=${image.config.config.User}`, rootDir, ...(image.config.config.Entrypoint ?? [])],
        env: imageEnv,
        user: image.config.config.User,
        nodeVersion: (await finalStage()).nodeVersion,
        // A runtime sets HOME from the image's /etc/passwd.
        homeDir: '/home/node',
        runTimings: [],
        remove: async () => {},
      };
      const args = withFlags(container.args ?? [], {
        // Not in a network namespace of its own: loopback and any free port (main.ts logs the ports it bound).
        'metrics-bind-address': '127.0.0.1:0',
        'health-probe-bind-address': '127.0.0.1:0',
        // The ECR stand-in the EcrRegistry below names as its endpoint.
        'allowed-endpoints': emulator.url,
      });
      const env = { ...containerEnv(container, podName), KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port };
      operator = await startOperatorProcess({ name: podName, layout, args, env, startTimeoutMs: 60_000 });

      // It is the image's node, confined to the image's root, as uid and gid 1000.
      const status = await fs.readFile(`/proc/${operator.pid}/status`, 'utf8');
      expect(/^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/)).to.deep.equal(['1000', '1000', '1000', '1000']);
      expect(/^Gid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/)).to.deep.equal(['1000', '1000', '1000', '1000']);
      expect(await fs.readlink(`/proc/${operator.pid}/root`)).to.equal(rootDir);
      expect(await fs.readlink(`/proc/${operator.pid}/exe`)).to.equal(path.join(rootDir, 'usr/local/bin/node'));

      const readyz = await eventually(
        async () => {
          const response = await fetch(`${operator!.healthUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
          expect(response.status).to.equal(200);
          return response;
        },
        { timeoutMs: 45_000, intervalMs: 200, message: `/readyz of the operator in the image:\n${operator.logText(20)}` },
      );
      expect(readyz.status).to.equal(200);

      await createCredentialsSecret(namespace, 'ecr-credentials', { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });
      await createRegistry(namespace, 'from-image', { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: 'ecr-credentials' } } });
      const registry = await eventually(
        async () => {
          const current = await getRegistry(namespace, 'from-image');
          expect(readyCondition(current)?.status, JSON.stringify(current.status)).to.equal('True');
          return current;
        },
        { timeoutMs: 60_000, intervalMs: 250, message: `the EcrRegistry becomes Ready:\n${operator.logText(20)}` },
      );
      const secret = await readSecret(namespace, registry.status?.pullSecretName ?? '');
      expect(secret?.type).to.equal('kubernetes.io/dockerconfigjson');
      expect(emulator.tokenInfo(pullSecretPassword(secret!, HOST)), 'the pull secret holds a token the emulator issued').to.not.equal(undefined);
      expect(forbiddenLines(operator), 'requests the shipped RBAC refused').to.deep.equal([]);
    });
  });
});
