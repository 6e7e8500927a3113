import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { trackTempDir, untrackTempDir } from './controlplane/cleanup.ts';

/**
 * The file layout the Dockerfile's final stage produces, built on disk without Docker by following the
 * Dockerfile's own instructions (COPY from the build context or an earlier stage, RUN npm, WORKDIR,
 * ENV, USER, ENTRYPOINT). No Docker engine runs here, so this is how the e2e tests run the operator
 * as the image would: only the files the image holds, the production dependencies that
 * `npm ci --omit=dev` installs, and the same start command.
 */
export interface ImageLayout {
  /** The final stage's filesystem root, on disk. */
  rootDir: string;
  /** The final stage's WORKDIR, on disk: where the start command runs. */
  appDir: string;
  /** ENTRYPOINT in exec form, such as ['node', 'src/main.ts']. */
  entrypoint: string[];
  /** ENV of the final stage. */
  env: Record<string, string>;
  /** USER of the final stage. */
  user: string | undefined;
  /** The Node.js version in the final stage's FROM tag, such as '24.21.0'. */
  nodeVersion: string;
  /** An empty folder to use as HOME, like the image's home of its user. */
  homeDir: string;
  /** What each RUN took, for the report. */
  runTimings: Array<{ command: string; ms: number }>;
  remove(): Promise<void>;
}

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string | undefined;
  image: string;
  /** The stage's filesystem root on disk. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[] | undefined;
}

export interface BuildOptions {
  /** The build context (the repository root). */
  contextDir: string;
  dockerfile?: string;
  /** The Node.js binary RUN npm runs under; defaults to the one running the tests. */
  nodeBinary?: string;
}

/** Follows the Dockerfile into a fresh temp folder. Throws on an instruction it cannot reproduce faithfully. */
export async function buildImageLayout(options: BuildOptions): Promise<ImageLayout> {
  const dockerfile = options.dockerfile ?? path.join(options.contextDir, 'Dockerfile');
  const instructions = parseDockerfile(await fs.readFile(dockerfile, 'utf8'));
  const ignore = await readDockerignore(options.contextDir);
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-image-'));
  trackTempDir(tempDir);
  const remove = async () => {
    await fs.rm(tempDir, { recursive: true, force: true });
    untrackTempDir(tempDir);
  };
  try {
    assertNoNodeModulesAbove(tempDir);
    const stages: Stage[] = [];
    const runTimings: ImageLayout['runTimings'] = [];
    const onDisk = (stage: Stage, target: string) => path.join(stage.root, path.posix.resolve(stage.workdir, target));
    for (const { keyword, args, line } of instructions) {
      const where = `Dockerfile line ${line}`;
      if (keyword === 'FROM') {
        const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
        if (!match) throw new Error(`${where}: cannot read FROM ${args}`);
        const root = path.join(tempDir, `stage-${stages.length}`);
        await fs.mkdir(root);
        stages.push({ name: match[2], image: match[1]!, root, workdir: '/', env: {}, user: undefined, entrypoint: undefined });
        continue;
      }
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${where}: ${keyword} before FROM`);
      switch (keyword) {
        case 'WORKDIR':
          stage.workdir = path.posix.resolve(stage.workdir, args);
          await fs.mkdir(onDisk(stage, '.'), { recursive: true });
          break;
        case 'ENV': {
          const match = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(args);
          if (!match) throw new Error(`${where}: only ENV NAME=value is supported`);
          stage.env[match[1]!] = match[2]!;
          break;
        }
        case 'USER':
          stage.user = args;
          break;
        case 'EXPOSE':
          break;
        case 'ENTRYPOINT':
          stage.entrypoint = parseExecForm(args, where);
          break;
        case 'COPY':
          await copy(args, stage, stages, options.contextDir, ignore, onDisk, where);
          break;
        case 'RUN': {
          const words = args.split(/\s+/);
          if (words[0] !== 'npm' || words.some((w) => /[;&|<>$`]/.test(w))) throw new Error(`${where}: only a plain RUN npm ... is supported, got: ${args}`);
          const started = Date.now();
          await run('npm', words.slice(1), onDisk(stage, '.'), { ...stage.env, PATH: `${path.dirname(nodeBinary)}${path.delimiter}${process.env.PATH ?? ''}` });
          runTimings.push({ command: args, ms: Date.now() - started });
          break;
        }
        default:
          throw new Error(`${where}: the e2e image layout does not reproduce ${keyword}; extend test/e2e/support/dockerfile.ts`);
      }
    }
    const final = stages.at(-1);
    if (!final?.entrypoint) throw new Error('the Dockerfile has no ENTRYPOINT in its final stage');
    const nodeVersion = /^node:(\d+\.\d+\.\d+)(?:-|$)/.exec(final.image)?.[1];
    if (!nodeVersion) throw new Error(`the final stage's image ${final.image} is not node:<x.y.z>-...`);
    const homeDir = path.join(final.root, 'home', 'operator');
    await fs.mkdir(homeDir, { recursive: true });
    return {
      rootDir: final.root,
      appDir: onDisk(final, '.'),
      entrypoint: final.entrypoint,
      env: final.env,
      user: final.user,
      nodeVersion,
      homeDir,
      runTimings,
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

const shared = new Map<string, Promise<ImageLayout>>();

/**
 * The repository's image layout, built once per test process and shared by every suite in it (the
 * e2e files each need it; `npm ci --omit=dev` is most of a minute on two cores). Its remove() does
 * nothing: the folder goes when the process exits, with the harness's other temp folders.
 */
export function sharedImageLayout(contextDir: string): Promise<ImageLayout> {
  let layout = shared.get(contextDir);
  if (layout === undefined) {
    layout = buildImageLayout({ contextDir }).then((built) => ({ ...built, remove: async () => {} }));
    // A failed build is not cached: the next suite tries again and reports its own error.
    layout.catch(() => shared.delete(contextDir));
    shared.set(contextDir, layout);
  }
  return layout;
}

/** Instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const space = full.search(/\s/);
    instructions.push({ keyword: full.slice(0, space).toUpperCase(), args: full.slice(space + 1).trim(), line: startLine });
  });
  return instructions;
}

function parseExecForm(args: string, where: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || parsed.some((p) => typeof p !== 'string')) throw new Error(`${where}: ENTRYPOINT must be in exec form`);
  return parsed as string[];
}

/** COPY semantics that matter here: a directory's contents are copied; a destination ending in / is a folder. */
async function copy(
  args: string,
  stage: Stage,
  stages: Stage[],
  contextDir: string,
  ignore: (relative: string) => boolean,
  onDisk: (stage: Stage, target: string) => string,
  where: string,
): Promise<void> {
  const words = args.split(/\s+/);
  let from: Stage | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    const match = /^--from=(\S+)$/.exec(flag);
    if (!match) throw new Error(`${where}: COPY ${flag} is not supported`);
    from = stages.find((s) => s.name === match[1]);
    if (!from) throw new Error(`${where}: no stage named ${match[1]}`);
  }
  const destination = words.pop();
  if (!destination || words.length === 0) throw new Error(`${where}: COPY needs a source and a destination`);
  const intoFolder = destination.endsWith('/') || words.length > 1;
  const target = onDisk(stage, destination);
  for (const source of words) {
    let sourcePath: string;
    if (from) {
      sourcePath = onDisk(from, source);
    } else {
      const relative = path.posix.normalize(source).replace(/\/$/, '');
      if (relative.startsWith('..') || path.isAbsolute(relative)) throw new Error(`${where}: ${source} is outside the build context`);
      if (ignore(relative)) throw new Error(`${where}: ${source} is excluded by .dockerignore, so docker build would fail`);
      sourcePath = path.join(contextDir, relative);
    }
    const stat = await fs.stat(sourcePath);
    const to = stat.isDirectory() ? target : intoFolder ? path.join(target, path.basename(sourcePath)) : target;
    if (from && !existsSync(to)) {
      // Moving is quicker than copying node_modules; a stage's files are only ever copied out once here.
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.rename(sourcePath, to);
      continue;
    }
    await fs.mkdir(stat.isDirectory() ? to : path.dirname(to), { recursive: true });
    await fs.cp(sourcePath, to, { recursive: true, verbatimSymlinks: true });
  }
}

/**
 * The .dockerignore rules, for the top-level names this Dockerfile copies: `*`, `name`, `!name`,
 * `name/`. Later rules win, as in Docker. A rule this reader does not understand fails the build.
 */
async function readDockerignore(contextDir: string): Promise<(relative: string) => boolean> {
  let text: string;
  try {
    text = await fs.readFile(path.join(contextDir, '.dockerignore'), 'utf8');
  } catch {
    return () => false;
  }
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      const pattern = (negated ? l.slice(1) : l).replace(/\/$/, '');
      if (pattern.includes('/') || pattern.includes('**')) throw new Error(`.dockerignore rule ${l} is not understood by test/e2e/support/dockerfile.ts`);
      const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
      return { negated, regex };
    });
  return (relative) => {
    const top = relative.split('/')[0]!;
    let ignored = false;
    for (const rule of rules) if (rule.regex.test(top)) ignored = !rule.negated;
    return ignored;
  };
}

/** Node.js looks for packages in every parent's node_modules: one above the layout would hide a missing dependency. */
function assertNoNodeModulesAbove(dir: string): void {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    if (existsSync(path.join(current, 'node_modules'))) throw new Error(`${current}/node_modules would leak into the image layout in ${dir}`);
    if (path.dirname(current) === current) return;
  }
}

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}
