import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** apiserver_request_total summed by verb and resource (subresource appended as resource/sub). */
export type RequestCounts = Map<string, number>;

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'CREATE', 'UPDATE', 'APPLY']);

/** GET /metrics from the apiserver as the admin (the endpoint needs a privileged identity). */
export async function readApiserverMetrics(kubeConfig: KubeConfig): Promise<string> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const url = new URL('/metrics', server);
  const options: https.RequestOptions = { method: 'GET', hostname: url.hostname, port: url.port, path: url.pathname };
  await kubeConfig.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const request = https.request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) reject(new Error(`GET /metrics answered ${response.statusCode}: ${body.slice(0, 200)}`));
        else resolve(body);
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

/** `verb resource[/subresource]` → count, from apiserver_request_total lines. */
export function parseRequestCounts(text: string): RequestCounts {
  const counts: RequestCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const close = line.lastIndexOf('}');
    const labels = labelsOf(line.slice('apiserver_request_total{'.length, close));
    const value = Number(line.slice(close + 1).trim());
    const resource = labels.subresource ? `${labels.resource}/${labels.subresource}` : (labels.resource ?? '');
    const key = `${labels.verb ?? '?'} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

function labelsOf(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]!] = match[2]!;
  return labels;
}

export async function requestCounts(kubeConfig: KubeConfig): Promise<RequestCounts> {
  return parseRequestCounts(await readApiserverMetrics(kubeConfig));
}

/** Watches open now, by resource: the apiserver_longrunning_requests{verb="WATCH"} gauge. */
export type OpenWatches = Record<string, number>;

export function parseOpenWatches(text: string): OpenWatches {
  const open: OpenWatches = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_longrunning_requests{')) continue;
    const close = line.lastIndexOf('}');
    const labels = labelsOf(line.slice('apiserver_longrunning_requests{'.length, close));
    if (labels.verb !== 'WATCH') continue;
    const value = Number(line.slice(close + 1).trim());
    if (!(value > 0)) continue;
    const resource = labels.subresource ? `${labels.resource}/${labels.subresource}` : (labels.resource ?? '');
    open[resource] = (open[resource] ?? 0) + value;
  }
  return open;
}

/** One scrape of the apiserver's /metrics: the request counters and the open watches, read together. */
export async function scrapeApiserver(kubeConfig: KubeConfig): Promise<{ counts: RequestCounts; openWatches: OpenWatches }> {
  const text = await readApiserverMetrics(kubeConfig);
  return { counts: parseRequestCounts(text), openWatches: parseOpenWatches(text) };
}

/** The writes of one reconciled kind, split by what they are, from a RequestDelta's byVerbResource. */
export interface WriteBreakdown {
  /** POST secrets. */
  secretCreates: number;
  /** PUT or PATCH secrets. */
  secretUpdates: number;
  /** Writes to `<resource>/status`. */
  statusPatches: number;
  /** Writes to the main resource (finalizers, annotations). */
  mainResourceWrites: number;
  events: number;
  /** Every other write, except the apiserver's own (leases, endpoints). */
  other: number;
  total: number;
}

/**
 * `resource` is the reconciled kind's plural, e.g. ecrregistries or clusterecrregistries. Creates of that
 * kind are left out: the operator never creates one, so they are the bench's own (the latency scenario's).
 */
export function writeBreakdown(byVerbResource: Readonly<Record<string, number>>, resource: string): WriteBreakdown {
  const out: WriteBreakdown = { secretCreates: 0, secretUpdates: 0, statusPatches: 0, mainResourceWrites: 0, events: 0, other: 0, total: 0 };
  for (const [key, count] of Object.entries(byVerbResource)) {
    const [verb = '', name = ''] = key.split(' ');
    if (!WRITE_VERBS.has(verb) || /^(leases|endpoints|endpointslices)\b/.test(name)) continue;
    if (name === resource && (verb === 'POST' || verb === 'CREATE')) continue;
    if (name === 'secrets') {
      if (verb === 'POST' || verb === 'CREATE') out.secretCreates += count;
      else out.secretUpdates += count;
    } else if (name === `${resource}/status`) out.statusPatches += count;
    else if (name === resource) out.mainResourceWrites += count;
    else if (name.startsWith('events')) out.events += count;
    else out.other += count;
    out.total += count;
  }
  return out;
}

/** Each figure of a breakdown divided by `units` (registries, namespaces or refreshes), to two decimals. */
export function perUnit(breakdown: WriteBreakdown, units: number): WriteBreakdown {
  const each = (n: number) => (units > 0 ? Math.round((n / units) * 100) / 100 : Number.NaN);
  return {
    secretCreates: each(breakdown.secretCreates),
    secretUpdates: each(breakdown.secretUpdates),
    statusPatches: each(breakdown.statusPatches),
    mainResourceWrites: each(breakdown.mainResourceWrites),
    events: each(breakdown.events),
    other: each(breakdown.other),
    total: each(breakdown.total),
  };
}

/** WATCH requests that ended (apiserver_request_total counts a watch when it ends), by resource. */
export function endedWatches(delta: RequestDelta): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, count] of Object.entries(delta.byVerbResource)) {
    const [verb, resource = ''] = key.split(' ');
    if (verb === 'WATCH') out[resource] = (out[resource] ?? 0) + count;
  }
  return out;
}

export interface RequestDelta {
  /** `verb resource` → requests in the interval, only non-zero entries. */
  byVerbResource: Record<string, number>;
  byVerb: Record<string, number>;
  writes: number;
  /** Writes to events (Events are reported on their own). */
  eventWrites: number;
  /**
   * Writes to leases and endpoints: on a bare control plane these are kube-apiserver's own (its identity
   * Lease and the `kubernetes` Service endpoints, every 10 s); the operator runs without leader election.
   */
  apiserverOwnWrites: number;
  /** Writes excluding events and the apiserver's own. */
  objectWrites: number;
}

export function diffCounts(before: RequestCounts, after: RequestCounts): RequestDelta {
  const byVerbResource: Record<string, number> = {};
  const byVerb: Record<string, number> = {};
  let writes = 0;
  let eventWrites = 0;
  let apiserverOwnWrites = 0;
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta <= 0) continue;
    byVerbResource[key] = delta;
    const [verb = '', resource = ''] = key.split(' ');
    byVerb[verb] = (byVerb[verb] ?? 0) + delta;
    if (!WRITE_VERBS.has(verb)) continue;
    writes += delta;
    if (resource.startsWith('events')) eventWrites += delta;
    else if (/^(leases|endpoints|endpointslices)\b/.test(resource)) apiserverOwnWrites += delta;
  }
  return { byVerbResource, byVerb, writes, eventWrites, apiserverOwnWrites, objectWrites: writes - eventWrites - apiserverOwnWrites };
}
