import type { ClusterSceneState } from './cluster-scene.ts';
import type { ClusterRegistryState, ImportState, PullSecretState, RegistryState, Snapshot } from './observer.ts';
import { type Moment, seconds, shortDigest, type Timeline } from './timeline.ts';

/** What the view needs besides the snapshot: fixed facts about this demo run. */
export interface ViewContext {
  intro: readonly string[];
  namespace: string;
  tokenLifetimeSeconds: number;
  /** When the emulator moves `latest` next; undefined when it never does. */
  nextTagMoveAtMs?: number;
  /** When the demo stops by itself; undefined when it runs until Ctrl-C. */
  stopAtMs?: number;
  /** Commands to look around with the real kubectl. */
  kubectlHint: readonly string[];
  /** The ClusterEcrRegistry act: when it was applied, when team-b comes, and how fast it was served. */
  cluster?: ClusterSceneState;
}

export interface View {
  update(snapshot: Snapshot, moments: readonly Moment[], context: ViewContext, timeline: Timeline): void;
  close(): void;
}

const ESC = '\u001b[';

export class Paint {
  private readonly on: boolean;
  constructor(on: boolean) {
    this.on = on;
  }
  private wrap(code: string, text: string): string {
    return this.on ? `${ESC}${code}m${text}${ESC}0m` : text;
  }
  bold = (text: string) => this.wrap('1', text);
  dim = (text: string) => this.wrap('2', text);
  green = (text: string) => this.wrap('32', text);
  yellow = (text: string) => this.wrap('33', text);
  red = (text: string) => this.wrap('31', text);
  cyan = (text: string) => this.wrap('36', text);
}

/** One screen, redrawn in place about once a second with plain ANSI escapes (no terminal UI library). */
export class LiveScreen implements View {
  private readonly out: NodeJS.WriteStream;
  private readonly paint: Paint;
  private started = false;

  constructor(out: NodeJS.WriteStream, color: boolean) {
    this.out = out;
    this.paint = new Paint(color);
  }

  update(snapshot: Snapshot, _moments: readonly Moment[], context: ViewContext, timeline: Timeline): void {
    const width = Math.max(60, this.out.columns ?? 100);
    const rows = Math.max(20, this.out.rows ?? 40);
    const lines = renderScreen(snapshot, context, timeline, this.paint, width, rows);
    if (!this.started) {
      // Clear once and hide the cursor; from then on only overwrite, so the screen does not flicker.
      this.out.write(`${ESC}2J${ESC}?25l`);
      this.started = true;
    }
    this.out.write(`${ESC}H${lines.map((line) => `${clip(line, width)}${ESC}K`).join('\n')}\n${ESC}J`);
  }

  close(): void {
    if (this.started) this.out.write(`${ESC}?25h`);
    this.started = false;
  }
}

/** For a pipe or a log file: each moment and Event as a line when it happens, and a status line every few seconds. */
export class PlainLog implements View {
  private readonly out: NodeJS.WritableStream;
  private readonly statusEveryMs: number;
  private lastStatusMs = 0;

  constructor(out: NodeJS.WritableStream, statusEveryMs = 10_000) {
    this.out = out;
    this.statusEveryMs = statusEveryMs;
  }

  update(snapshot: Snapshot, moments: readonly Moment[], _context: ViewContext, timeline: Timeline): void {
    const stamp = (atMs: number) => `[${clock(atMs - timeline.startedAtMs)}]`;
    const lines: string[] = [];
    for (const moment of moments) lines.push(`${stamp(moment.atMs)} ${moment.tone === 'warn' ? 'WARNING: ' : ''}${moment.text}`);
    for (const event of timeline.newEvents(snapshot)) {
      lines.push(`${stamp(snapshot.atMs)} Event ${event.type} ${event.reason} on ${event.regarding}: ${event.note}`);
    }
    if (snapshot.error) lines.push(`${stamp(snapshot.atMs)} cannot read the cluster: ${snapshot.error}`);
    if (snapshot.atMs - this.lastStatusMs >= this.statusEveryMs) {
      this.lastStatusMs = snapshot.atMs;
      lines.push(`${stamp(snapshot.atMs)} status: ${statusLine(snapshot, timeline)}`);
    }
    if (lines.length > 0) this.out.write(`${lines.join('\n')}\n`);
  }

  close(): void {}
}

export function statusLine(snapshot: Snapshot, timeline: Timeline): string {
  const now = snapshot.atMs;
  const registries = snapshot.registries.map((r) => {
    const s = r.pullSecret;
    if (!s) return `${r.name}: no pull secret yet (${r.ready?.reason ?? 'waiting'})`;
    return (
      `${r.name}: token age ${seconds(s.issuedAtMs !== undefined ? now - s.issuedAtMs : undefined)}, ` +
      `expires in ${seconds(s.expiresAtMs !== undefined ? s.expiresAtMs - now : undefined)}, ` +
      `next refresh ${relative(r.nextRefreshMs, now)}, rotations ${timeline.rotations(r.name)}, ` +
      `registry answers ${s.registryStatus ?? '-'}, Ready ${r.ready?.status ?? '-'}/${r.ready?.reason ?? '-'}`
    );
  });
  const clusterRegistries = snapshot.clusterRegistries.map((r) => {
    const secrets = r.namespaces.map((n) => `${n.namespace} ${n.pullSecret ? `${n.pullSecret.registryStatus ?? '-'}` : 'none'}`).join(', ');
    const newest = newestSecret(r);
    return (
      `ClusterEcrRegistry ${r.name}: namespaces ${r.namespacesSelected ?? '-'} selected/${r.namespacesReady ?? '-'} ready/${r.namespacesFailed ?? '-'} failed, ` +
      `token age ${seconds(newest?.issuedAtMs !== undefined ? now - newest.issuedAtMs : undefined)}, expires in ${seconds(newest?.expiresAtMs !== undefined ? newest.expiresAtMs - now : undefined)}, ` +
      `rotations ${timeline.clusterRotations(r.name)}, registry answers [${secrets}], Ready ${r.ready?.status ?? '-'}/${r.ready?.reason ?? '-'}`
    );
  });
  const imports = snapshot.imports.map(
    (i) => `${i.name}: ${i.tags.map((t) => `${t.tag}=${shortDigest(t.digest)}`).join(' ')}, Ready ${i.ready?.status ?? '-'}/${i.ready?.reason ?? '-'}`,
  );
  return [...registries, ...clusterRegistries, ...imports].join(' | ') || 'waiting for the operator';
}

export function renderScreen(snapshot: Snapshot, context: ViewContext, timeline: Timeline, paint: Paint, width: number, rows: number): string[] {
  const now = snapshot.atMs;
  const intro = [...wrap(context.intro.join(' '), width - 1).map((line) => paint.dim(line)), ''];
  const stopText = context.stopAtMs !== undefined ? `stops by itself in ${seconds(Math.max(0, context.stopAtMs - now))}` : 'Ctrl-C stops it';
  const status = [
    `${paint.bold(`Live for ${clock(now - timeline.startedAtMs)}`)}  ECR tokens here live ${context.tokenLifetimeSeconds}s (12h on AWS)  namespace ${context.namespace}  ${stopText}`,
    ...(snapshot.error ? [paint.red(`cannot read the cluster: ${snapshot.error}`)] : []),
    '',
  ];

  const secrets: string[] = [
    paint.cyan(paint.bold('PULL SECRETS · EcrRegistry')) + paint.dim(`  each keeps a kubernetes.io/dockerconfigjson Secret in its namespace (${context.namespace}) filled with a valid ECR token`),
  ];
  if (snapshot.registries.length === 0) secrets.push('  waiting for the operator to see the EcrRegistry…');
  else secrets.push(...table(['REGISTRY', 'SECRET', 'TOKEN AGE', 'EXPIRES IN', 'NEXT REFRESH', 'ROTATIONS', 'LOGIN AT REGISTRY', 'READY'], snapshot.registries.map((r) => registryRow(r, now, timeline, paint))));
  const secretDetails: string[] = [];
  for (const registry of snapshot.registries) {
    const bar = lifetimeBar(registry.pullSecret, registry.nextRefreshMs, now, Math.min(50, width - 30));
    if (bar) secretDetails.push(`  ${registry.name} token  ${bar}  ${paint.dim('= age, | refresh, ] expiry')}`);
    if (registry.serviceAccounts.length > 0) secretDetails.push(paint.dim(`  ServiceAccount ${registry.serviceAccounts.join(', ')}: imagePullSecrets includes ${registry.pullSecret?.name ?? registry.name}`));
  }
  secretDetails.push('');

  const cluster = clusterSection(snapshot.clusterRegistries, context.cluster, now, timeline, paint, width);

  const images: string[] = [];
  for (const imageImport of snapshot.imports) images.push(...importSection(imageImport, now, context, paint));
  if (snapshot.imports.length === 0) images.push(paint.cyan(paint.bold('IMPORTED IMAGE')), '  waiting for the ImageImport…', '');

  const metrics: string[] = [paint.cyan(paint.bold('METRICS')) + paint.dim("  from the operator's /metrics")];
  if (!snapshot.metrics) metrics.push('  (not scraped yet)');
  else {
    const expiry = [...snapshot.metrics.tokenExpirySeconds].map(([name, value]) => `ecr_operator_token_expiry_seconds{name="${name}"} ${value.toFixed(0)}`);
    const calls = [...snapshot.metrics.ecrCalls].sort().map(([action, n]) => `${action} ${n}`);
    metrics.push(`  ${expiry.join('  ') || 'ecr_operator_token_expiry_seconds: no token yet'}`);
    metrics.push(`  ecr_operator_ecr_api_calls_total: ${calls.join(', ') || 'none yet'}${snapshot.metrics.ecrErrors > 0 ? paint.yellow(` (${snapshot.metrics.ecrErrors} failed)`) : ''}`);
  }
  metrics.push('');

  const figures = [
    paint.dim(
      `Figures: first pull secret ${since(timeline.firstSecretAtMs, timeline)} · first rotation ${since(timeline.firstRotationAtMs, timeline)} · ` +
        `${context.cluster?.arrival?.workingAfterMs !== undefined ? `${context.cluster.arrival.namespace} served ${context.cluster.arrival.workingAfterMs} ms after it was created · ` : ''}` +
        `expired or refused tokens seen: ${timeline.expiredSamples + timeline.refusedSamples} of ${timeline.samples} samples`,
    ),
  ];
  const hint = [paint.dim('Look around in another terminal with the real kubectl:'), ...context.kubectlHint.map((line) => paint.dim(`  ${line}`))];

  // A small terminal loses the least useful parts first, so the screen never scrolls (that would break the redraw).
  const parts = { intro, status, secrets, secretDetails, cluster: cluster.main, clusterDetails: cluster.details, images, metrics, figures, hint };
  const droppable: Array<keyof typeof parts> = ['intro', 'hint', 'metrics', 'secretDetails', 'clusterDetails'];
  const budget = rows - 1;
  // The story carries what the tables cannot (team-b's arrival in ms, rotations as they happen): keep room for it.
  const minimumStoryAndEvents = 12;
  const fixedSize = () => Object.values(parts).reduce((sum, lines) => sum + lines.length, 0);
  while (fixedSize() + minimumStoryAndEvents > budget && droppable.length > 0) parts[droppable.shift()!] = [];

  // What is left goes to the story (two thirds: it tells what the Events tell, and more) and the Events, newest first.
  const room = Math.max(2, budget - fixedSize() - 4);
  const story = [paint.cyan(paint.bold('WHAT HAPPENED')), ...storyLines(timeline.moments, timeline, paint, width, Math.max(1, Math.ceil((room * 2) / 3))), ''];
  const eventsRoom = Math.max(1, room - (story.length - 2));
  const events = [paint.cyan(paint.bold('EVENTS')) + paint.dim(`  kubectl get events -n ${context.namespace} (and -n default for the ClusterEcrRegistry), newest first`)];
  const recent = snapshot.events.slice(0, eventsRoom);
  if (recent.length === 0) events.push('  none yet');
  for (const event of recent) {
    const type = event.type === 'Warning' ? paint.yellow(event.type) : event.type;
    const count = event.count > 1 ? ` (x${event.count})` : '';
    events.push(`  ${clock(event.atMs - timeline.startedAtMs)}  ${type}  ${paint.bold(event.reason)}  ${event.regarding}  ${event.note}${count}`);
  }
  events.push('');
  const all = [
    ...parts.intro,
    ...parts.status,
    ...parts.secrets,
    ...parts.secretDetails,
    ...parts.cluster,
    ...parts.clusterDetails,
    ...parts.images,
    ...story,
    ...events,
    ...parts.metrics,
    ...parts.figures,
    ...parts.hint,
  ];
  return all.slice(0, budget);
}

function registryRow(r: RegistryState, now: number, timeline: Timeline, paint: Paint): string[] {
  const s = r.pullSecret;
  const expiresIn = s?.expiresAtMs !== undefined ? s.expiresAtMs - now : undefined;
  const expires = expiresIn === undefined ? '-' : expiresIn > 0 ? seconds(expiresIn) : paint.red(`expired ${seconds(-expiresIn)} ago`);
  const answer = s?.registryStatus === undefined ? '-' : s.registryStatus === 200 ? paint.green('200 OK') : paint.red(`${s.registryStatus} refused`);
  const ready = r.ready ? `${r.ready.status === 'True' ? paint.green('True') : paint.yellow(r.ready.status)} ${r.ready.reason}` : 'pending';
  return [
    r.name,
    s?.name ?? '-',
    seconds(s?.issuedAtMs !== undefined ? now - s.issuedAtMs : undefined),
    expires,
    relative(r.nextRefreshMs, now),
    String(timeline.rotations(r.name)),
    answer,
    ready,
  ];
}

/** The ClusterEcrRegistry: its status in one line, then its one pull secret as each selected namespace holds it. */
function clusterSection(
  registries: readonly ClusterRegistryState[],
  scene: ClusterSceneState | undefined,
  now: number,
  timeline: Timeline,
  paint: Paint,
  width: number,
): { main: string[]; details: string[] } {
  const main = [paint.cyan(paint.bold('PULL SECRETS · ClusterEcrRegistry')) + paint.dim('  one Secret, one token, in every namespace its selector matches')];
  const details: string[] = [];
  if (registries.length === 0) {
    main.push(scene?.appliedAtMs === undefined ? `  ${scene?.registry ?? 'a ClusterEcrRegistry'} is applied once the samples are Ready…` : '  waiting for the operator to see the ClusterEcrRegistry…', '');
    return { main, details };
  }
  for (const r of registries) {
    const ready = r.ready ? `Ready ${r.ready.status === 'True' ? paint.green('True') : paint.yellow(r.ready.status)} ${r.ready.reason}` : 'Ready pending';
    const failed = r.namespacesFailed ? paint.red(`${r.namespacesFailed} failed`) : `${r.namespacesFailed ?? '-'} failed`;
    const counts = `namespaces ${r.namespacesSelected ?? '-'} selected, ${r.namespacesReady ?? '-'} ready, ${failed}`;
    main.push(`  ${paint.bold(r.name)}  selects namespaces ${r.selector || '-'}  ${ready}`);
    main.push(`  ${counts} · rotations ${timeline.clusterRotations(r.name)} · next refresh ${relative(r.nextRefreshMs, now)}`);
    const rows = r.namespaces.map((n) => clusterNamespaceRow(r, n.namespace, n.selected, n.pullSecret, scene, now, paint));
    const live = scene?.liveNamespace;
    if (live && scene.arrival && !r.namespaces.some((n) => n.namespace === live)) rows.push([live, '-', '-', '-', '-', `created ${seconds(now - scene.arrival.createdAtMs)} ago, not listed yet`]);
    if (rows.length > 0) main.push(...table(['NAMESPACE', 'SECRET', 'TOKEN AGE', 'EXPIRES IN', 'LOGIN AT REGISTRY', 'SERVED'], rows));
    for (const f of r.failedNamespaces.slice(0, 3)) main.push(paint.yellow(`  ${f.namespace}: ${f.reason}: ${f.message}`));
    const bar = lifetimeBar(newestSecret(r), r.nextRefreshMs, now, Math.min(50, width - 30));
    if (bar) details.push(`  ${r.name} token  ${bar}  ${paint.dim('= age, | refresh, ] expiry')}`);
  }
  if (scene?.liveNamespaceDueAtMs !== undefined && scene.arrival === undefined) {
    details.push(paint.dim(`  namespace ${scene.liveNamespace} is created with label ${scene.selector} ${relative(scene.liveNamespaceDueAtMs, now)} (DEMO_NAMESPACE_SECONDS)`));
  }
  main.push('');
  details.push(...(details.length > 0 ? [''] : []));
  return { main, details };
}

function clusterNamespaceRow(
  r: ClusterRegistryState,
  namespace: string,
  selected: boolean,
  s: PullSecretState | undefined,
  scene: ClusterSceneState | undefined,
  now: number,
  paint: Paint,
): string[] {
  const expiresIn = s?.expiresAtMs !== undefined ? s.expiresAtMs - now : undefined;
  const expires = expiresIn === undefined ? '-' : expiresIn > 0 ? seconds(expiresIn) : paint.red(`expired ${seconds(-expiresIn)} ago`);
  const answer = s?.registryStatus === undefined ? '-' : s.registryStatus === 200 ? paint.green('200 OK') : paint.red(`${s.registryStatus} refused`);
  const arrival = scene?.arrival?.namespace === namespace ? scene.arrival : undefined;
  let served = s ? 'yes' : selected ? paint.yellow('not yet') : 'no longer selected';
  if (arrival?.workingAfterMs !== undefined) served = paint.green(`${arrival.workingAfterMs} ms after the namespace was created`);
  else if (arrival?.gaveUp === 'timeout') served = paint.red(`not within ${seconds(now - arrival.createdAtMs)} of the namespace's creation`);
  else if (arrival) served = paint.yellow(`waiting, ${seconds(now - arrival.createdAtMs)} since the namespace's creation`);
  return [namespace, s?.name ?? r.pullSecretName, seconds(s?.issuedAtMs !== undefined ? now - s.issuedAtMs : undefined), expires, answer, served];
}

/** The copy holding the newest token: after a rotation every namespace should hold it. */
function newestSecret(r: ClusterRegistryState): PullSecretState | undefined {
  let newest: PullSecretState | undefined;
  for (const n of r.namespaces) {
    if (n.pullSecret && (newest === undefined || (n.pullSecret.issuedAtMs ?? 0) > (newest.issuedAtMs ?? 0))) newest = n.pullSecret;
  }
  return newest;
}

function importSection(imageImport: ImportState, now: number, context: ViewContext, paint: Paint): string[] {
  const host = imageImport.tags.find((t) => t.image)?.image?.split('@')[0] ?? imageImport.repository;
  const lines = [
    paint.cyan(paint.bold('IMPORTED IMAGE')) + paint.dim(`  ImageImport ${imageImport.name}: ${host}, tags re-checked every ${imageImport.interval ?? '1h'}`),
  ];
  const rows = imageImport.tags.map((t) => {
    const recentlyMoved = t.digestChangedAtMs !== undefined && now - t.digestChangedAtMs < 15_000;
    return [
      t.tag === imageImport.defaultTag ? `${t.tag} (default)` : t.tag,
      t.digest ? (recentlyMoved ? paint.yellow(shortDigest(t.digest)) : shortDigest(t.digest)) : (t.resolved?.reason ?? '-'),
      t.platforms.join(', ') || '-',
      t.pullable === undefined ? '-' : t.pullable ? paint.green('yes') : paint.red('no'),
      t.digestChangedAtMs !== undefined ? `${seconds(now - t.digestChangedAtMs)}${recentlyMoved ? paint.yellow('  <- moved') : ''}` : '-',
    ];
  });
  lines.push(...table(['TAG', 'DIGEST', 'PLATFORMS', 'PULLABLE', 'AT THIS DIGEST FOR'], rows));
  const ready = imageImport.ready ? `Ready ${imageImport.ready.status === 'True' ? paint.green('True') : paint.yellow(imageImport.ready.status)} (${imageImport.ready.reason})` : 'Ready pending';
  const next = imageImport.nextImportMs !== undefined ? ` · next check ${relative(imageImport.nextImportMs, now)}` : '';
  const move = context.nextTagMoveAtMs !== undefined ? ` · the emulator moves latest to a new build ${relative(context.nextTagMoveAtMs, now)}` : '';
  lines.push(`  ${ready}${next}${paint.dim(move)}`, '');
  return lines;
}

function storyLines(moments: readonly Moment[], timeline: Timeline, paint: Paint, width: number, room: number): string[] {
  const lines: string[] = [];
  for (const moment of [...moments].reverse()) {
    const tone = moment.tone === 'warn' ? paint.yellow : moment.tone === 'good' ? paint.green : (text: string) => text;
    const wrapped = wrap(moment.text, width - 11);
    const block = wrapped.map((text, i) => (i === 0 ? `  ${clock(moment.atMs - timeline.startedAtMs)}  ${tone(text)}` : `         ${tone(text)}`));
    if (lines.length + block.length > room) break;
    lines.push(...block);
  }
  if (lines.length === 0) lines.push('  starting…');
  return lines;
}

/** `[=========|........]`: the token's age against its lifetime, with the planned refresh marked. */
function lifetimeBar(s: PullSecretState | undefined, nextRefreshMs: number | undefined, now: number, width: number): string | undefined {
  if (s?.issuedAtMs === undefined || s.expiresAtMs === undefined || width < 10) return undefined;
  const lifetime = s.expiresAtMs - s.issuedAtMs;
  if (lifetime <= 0) return undefined;
  const position = (ms: number) => Math.max(0, Math.min(width - 1, Math.floor(((ms - s.issuedAtMs!) / lifetime) * width)));
  const age = position(now);
  const refresh = nextRefreshMs !== undefined ? position(nextRefreshMs) : -1;
  let bar = '';
  for (let i = 0; i < width; i++) bar += i === refresh ? '|' : i <= age ? '=' : '.';
  return `[${bar}]`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c)))).join('  ')}`;
  return [line(header), ...rows.map(line)];
}

function relative(atMs: number | undefined, now: number): string {
  if (atMs === undefined) return '-';
  const delta = atMs - now;
  return delta >= 0 ? `in ${seconds(delta)}` : `${seconds(-delta)} ago`;
}

function since(atMs: number | undefined, timeline: Timeline): string {
  return atMs === undefined ? 'not yet' : `after ${((atMs - timeline.startedAtMs) / 1000).toFixed(1)}s`;
}

/** `mm:ss` since the demo started. */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(total / 60)).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  if (current) lines.push(current);
  return lines;
}

function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI colour codes is the point.
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').length;
}

/** Cuts a line to the terminal's width without cutting a colour code in half. */
function clip(line: string, width: number): string {
  if (visibleLength(line) <= width) return line;
  let out = '';
  let visible = 0;
  for (let i = 0; i < line.length && visible < width - 1; ) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI colour codes is the point.
    const code = /^\u001b\[[0-9;?]*[A-Za-z]/.exec(line.slice(i));
    if (code) {
      out += code[0];
      i += code[0].length;
    } else {
      out += line[i];
      i += 1;
      visible += 1;
    }
  }
  return `${out}…${ESC}0m`;
}
