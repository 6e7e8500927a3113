import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeKubeconfig } from './controlplane/kubeconfig.ts';

/**
 * A fault-injecting proxy in front of the test apiserver, for the reliability campaign (issue 14).
 * It terminates TLS with a certificate the test CA signed (the apiserver's own serving certificate
 * fits: its SAN is 127.0.0.1), reads each request, and forwards it over TLS to the apiserver with
 * its headers, the `Authorization` bearer token included. Clients must therefore authenticate with
 * a token (a ServiceAccount's TokenRequest token); a client certificate ends at the proxy.
 *
 * ```ts
 * const proxy = await FaultProxy.start({ target: env.server, caCertPem: env.caCertPem, ...env.servingCertificate() });
 * proxy.registerClient('replica-a', tokenA);                 // requests carrying tokenA are client "replica-a"
 * const kubeconfig = await proxy.writeKubeconfig(file, tokenA);
 * const fault = proxy.inject({ match: { write: true }, action: { kind: 'status', code: 429, retryAfterSeconds: 2 } });
 * ...; fault.remove();                                       // or `times: n` to remove it after n hits
 * const heal = proxy.partition('replica-a');                 // drop every request of one client
 * heal.remove();
 * proxy.count({ client: 'replica-a', write: true });         // what reached the apiserver
 * await proxy.close();
 * ```
 *
 * API:
 * - `FaultProxy.start({ target, caCertPem, certPem, keyPem })`, `url`, `port`, `close()`.
 * - Clients: `registerClient(name, bearerToken)`; requests with an unknown or no token are client `other`.
 *   `writeKubeconfig(path, token, name?)` writes a kubeconfig that reaches the apiserver through the proxy.
 * - Faults: `inject({ match, action, times?, name? })` returns `{ hits, remove() }`; the first fault whose
 *   `match` fits a request (in injection order) applies to it. `clearFaults()` removes all.
 *   Actions (`FaultAction`):
 *   - `{ kind: 'status', code, retryAfterSeconds?, reason? }`: answered by the proxy with a metav1 Status,
 *     e.g. 429 TooManyRequests with a `Retry-After` header, or 500 InternalError. Nothing is forwarded.
 *   - `{ kind: 'stall', ms }`: held for `ms`, then forwarded (a slow apiserver, an overloaded LB).
 *   - `{ kind: 'cut-watch', afterEvents? }`: a watch is forwarded, and after `afterEvents` (default 0)
 *     complete events the proxy sends the first half of the next event's line and destroys the socket:
 *     the client sees a stream that breaks mid-event.
 *   - `{ kind: 'gone', as? }`: a watch is answered 410 Gone, reason Expired, without forwarding: as an
 *     ERROR watch event in a 200 stream (`as: 'event'`, the default, what the watch cache sends) or as
 *     an HTTP 410 Status (`as: 'status'`). Either forces the informer to relist.
 *   - `{ kind: 'drop' }`: never forwarded, never answered; the connection is destroyed when the fault
 *     is removed (as a TCP connection times out once a partition heals).
 * - Partitions: `partition(client, match?)` drops every request of `client` (matching `match`, if given)
 *   and freezes its streams in flight (watches stop receiving); `remove()` on the handle heals it.
 * - Records: every request is recorded (`requests(filter?)`) with its client, verb, resource, namespace,
 *   name, the fault that applied, the status the client saw, and monotonic timestamps (performance.now()):
 *   received, forwarded to the apiserver (absent if it never was), answered; `upstreamError` when the
 *   connection to the apiserver failed. `count(filter?)` counts requests that reached (or may have reached:
 *   a reset mid-request) the apiserver, `reachedApiServer(record)` tells one; `countsBy(filter?)` groups them as "verb resource".
 *   A `RequestFilter` is a `Match` plus `sinceMs`/`untilMs` (received in [since, until)). `clearRecords()`
 *   forgets them (for a long soak).
 *
 * An upstream failure (the apiserver restarting: connection refused or reset) destroys the client's
 * connection, so the client sees the network error it would have seen connecting directly.
 *
 * StallProxy (stall-proxy.ts) stays the tool for a TCP-level stall with TLS passed through untouched;
 * this proxy works a level up, on requests, which it must decrypt to tell apart.
 */

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'other';

export const WRITE_VERBS: readonly Verb[] = ['create', 'update', 'patch', 'delete', 'deletecollection'];

/** What a request asks for, read from its method and path as the apiserver's RequestInfo would. */
export interface RequestInfo {
  client: string;
  verb: Verb;
  /** The resource, with its subresource: `secrets`, `ecrregistries/status`, `leases`; '' for /version, /readyz, ... */
  resource: string;
  namespace?: string;
  name?: string;
  path: string;
}

export interface RequestRecord extends RequestInfo {
  id: number;
  /** performance.now() when the request arrived at the proxy. */
  receivedMs: number;
  /** When it was sent on to the apiserver; absent when it never reached it (answered by a fault, dropped). */
  forwardedMs?: number;
  /** When the client got the response's status line (from the apiserver or from a fault). */
  answeredMs?: number;
  /** The HTTP status the client saw. */
  status?: number;
  /** Name of the fault that applied, if any. */
  fault?: string;
  /** True when the proxy broke the request off (upstream failure, watch cut, partition). */
  broken?: boolean;
  /** The error code of a failed upstream connection (ECONNREFUSED: it never reached the apiserver). */
  upstreamError?: string;
}

export interface Match {
  client?: string | readonly string[];
  verb?: Verb | readonly Verb[];
  /** Exact resource strings; `secrets` does not match `secrets/status`. */
  resource?: string | readonly string[];
  namespace?: string | readonly string[];
  /** Only writes (create, update, patch, delete, deletecollection), or only reads when false. */
  write?: boolean;
}

export interface RequestFilter extends Match {
  /** Received at or after this performance.now(). */
  sinceMs?: number;
  /** Received before this performance.now(). */
  untilMs?: number;
}

export type FaultAction =
  | { kind: 'status'; code: number; retryAfterSeconds?: number; reason?: string }
  | { kind: 'stall'; ms: number }
  | { kind: 'cut-watch'; afterEvents?: number }
  | { kind: 'gone'; as?: 'event' | 'status' }
  | { kind: 'drop' };

export interface FaultSpec {
  match: Match;
  action: FaultAction;
  /** Remove the fault after it applied this many times. */
  times?: number;
  /** Shown in records; defaults to the action's kind (and code). */
  name?: string;
}

export interface FaultHandle {
  readonly name: string;
  /** Requests the fault applied to so far. */
  readonly hits: number;
  remove(): void;
}

export interface FaultProxyOptions {
  /** The apiserver's URL, e.g. https://127.0.0.1:6443. */
  target: string;
  /** CA that signed the apiserver's serving certificate. */
  caCertPem: string;
  /** Certificate and key the proxy serves (the test CA's; the apiserver's serving pair works). */
  certPem: string;
  keyPem: string;
}

interface ActiveFault {
  spec: FaultSpec;
  name: string;
  hits: number;
  removed: boolean;
  /** Requests this fault holds (drop): destroyed when it is removed. */
  held: Set<ServerResponse>;
}

interface Exchange {
  record: RequestRecord;
  response: ServerResponse;
  /** Set once a partition froze it: nothing more reaches the client. */
  frozen: boolean;
  upstream?: IncomingMessage;
  /** A watch being relayed: whole events still to pass before the stream is cut mid-event (undefined: not armed). */
  cutAfterEvents?: number;
  /** Bytes of a watch stream not yet relayed while a cut is armed (the current, incomplete line). */
  pending?: Buffer;
  /** Name of the fault that armed the cut. */
  cutBy?: string;
}

const STATUS_REASONS: Record<number, string> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Headers that belong to one connection and are not forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

export class FaultProxy {
  readonly port: number;
  readonly url: string;
  readonly #server: https.Server;
  readonly #target: URL;
  readonly #agent: https.Agent;
  readonly #caCertPem: string;
  readonly #clients = new Map<string, string>();
  #faults: ActiveFault[] = [];
  readonly #records: RequestRecord[] = [];
  readonly #active = new Set<Exchange>();
  #nextId = 1;

  private constructor(server: https.Server, port: number, options: FaultProxyOptions) {
    this.#server = server;
    this.port = port;
    this.url = `https://127.0.0.1:${port}`;
    this.#target = new URL(options.target);
    this.#caCertPem = options.caCertPem;
    this.#agent = new https.Agent({ keepAlive: true, ca: options.caCertPem, maxSockets: 256 });
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = https.createServer({ cert: options.certPem, key: options.keyPem, keepAliveTimeout: 60_000 });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the fault proxy has no TCP port');
    const proxy = new FaultProxy(server, address.port, options);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => proxy.#handle(request, response));
    // A client that goes away mid-request is not the proxy's failure.
    server.on('clientError', (_error, socket: Socket) => socket.destroy());
    return proxy;
  }

  /** Requests carrying `Authorization: Bearer <token>` are recorded as client `name`. */
  registerClient(name: string, token: string): void {
    this.#clients.set(token, name);
  }

  /** Writes a kubeconfig that reaches the apiserver through this proxy with `token`. */
  async writeKubeconfig(filePath: string, token: string, name = 'through-fault-proxy'): Promise<string> {
    await writeKubeconfig(filePath, { name, server: this.url, caCertPem: this.#caCertPem, credentials: { token } });
    return filePath;
  }

  inject(spec: FaultSpec): FaultHandle {
    const fault = this.#add(spec);
    // Watch faults also reach the watches already streaming, which would otherwise run for minutes untouched.
    const action = spec.action;
    if (action.kind === 'cut-watch' || action.kind === 'gone') {
      for (const exchange of this.#active) {
        if (fault.removed || exchange.record.verb !== 'watch' || exchange.frozen || exchange.record.broken || !matches(spec.match, exchange.record)) continue;
        if (exchange.upstream === undefined || exchange.cutAfterEvents !== undefined) continue;
        this.#hit(fault, exchange.record);
        if (action.kind === 'cut-watch') {
          exchange.cutAfterEvents = action.afterEvents ?? 0;
          exchange.cutBy = fault.name;
        } else {
          // The watch cache ends a stream whose resourceVersion is too old with this event.
          // The leading newline ends any event line already half relayed (the client drops it as unparsable).
          const upstream = exchange.upstream;
          exchange.record.broken = true;
          exchange.response.end(`\n${goneEvent()}\n`, () => upstream.destroy());
        }
      }
    }
    return this.#handleOf(fault);
  }

  #hit(fault: ActiveFault, record: RequestRecord): void {
    fault.hits += 1;
    record.fault = fault.name;
    if (fault.spec.times !== undefined && fault.hits >= fault.spec.times) this.#remove(fault);
  }

  #add(spec: FaultSpec): ActiveFault {
    const action = spec.action;
    const fault: ActiveFault = {
      spec,
      name: spec.name ?? (action.kind === 'status' ? `status ${action.code}` : action.kind),
      hits: 0,
      removed: false,
      held: new Set(),
    };
    this.#faults.push(fault);
    return fault;
  }

  #handleOf(fault: ActiveFault): FaultHandle {
    return {
      name: fault.name,
      get hits() {
        return fault.hits;
      },
      remove: () => this.#remove(fault),
    };
  }

  clearFaults(): void {
    for (const fault of [...this.#faults]) this.#remove(fault);
  }

  /**
   * Drops every request of `client` (those that fit `match`, when given) from now on, and freezes its
   * exchanges in flight that fit: they get no more bytes. `remove()` heals the partition and destroys
   * what was held or frozen, as the client's TCP connections would time out.
   */
  partition(client: string, match: Match = {}): FaultHandle {
    const scoped: Match = { ...match, client };
    const fault = this.#add({ match: scoped, action: { kind: 'drop' }, name: `partition ${client}` });
    for (const exchange of this.#active) {
      if (!matches(scoped, exchange.record)) continue;
      exchange.frozen = true;
      exchange.upstream?.pause();
      exchange.record.fault ??= fault.name;
      exchange.record.broken = true;
      fault.held.add(exchange.response);
    }
    return this.#handleOf(fault);
  }

  /** Every request recorded so far that fits `filter`, in arrival order. */
  requests(filter: RequestFilter = {}): RequestRecord[] {
    return this.#records.filter((record) => inWindow(filter, record) && matches(filter, record));
  }

  /** Forgets the requests recorded so far (a long run's memory); exchanges in flight keep their records. */
  clearRecords(): void {
    this.#records.length = 0;
  }

  /** How many requests that fit `filter` reached (or may have reached) the apiserver. */
  count(filter: RequestFilter = {}): number {
    return this.requests(filter).filter(reachedApiServer).length;
  }

  /** Requests that reached (or may have reached) the apiserver, grouped as "verb resource" (e.g. "patch ecrregistries/status"). */
  countsBy(filter: RequestFilter = {}): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const record of this.requests(filter)) {
      if (!reachedApiServer(record)) continue;
      const key = `${record.verb} ${record.resource || record.path}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  /** Closes the listener and every connection, held ones included. */
  async close(): Promise<void> {
    this.clearFaults();
    for (const exchange of this.#active) exchange.response.destroy();
    this.#server.closeAllConnections();
    this.#server.close();
    this.#agent.destroy();
    await once(this.#server, 'close');
  }

  #remove(fault: ActiveFault): void {
    if (fault.removed) return;
    fault.removed = true;
    this.#faults = this.#faults.filter((f) => f !== fault);
    for (const response of fault.held) response.destroy();
    fault.held.clear();
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const info = requestInfo(request, this.#clientOf(request.headers));
    const record: RequestRecord = { id: this.#nextId++, receivedMs: performance.now(), ...info };
    this.#records.push(record);
    const exchange: Exchange = { record, response, frozen: false };
    this.#active.add(exchange);
    response.on('close', () => this.#active.delete(exchange));
    request.on('error', () => response.destroy());

    const fault = this.#faults.find((f) => !f.removed && matches(f.spec.match, record) && appliesTo(f.spec.action, record));
    if (!fault) {
      this.#forward(request, exchange);
      return;
    }
    this.#hit(fault, record);
    const action = fault.spec.action;
    switch (action.kind) {
      case 'status':
        request.resume();
        answerStatus(response, record, action.code, action.reason, action.retryAfterSeconds);
        return;
      case 'gone':
        request.resume();
        answerGone(response, record, action.as ?? 'event');
        return;
      case 'drop':
        // Read and discard the body, answer nothing; removing the fault destroys the connection.
        request.resume();
        record.broken = true;
        exchange.frozen = true;
        if (fault.removed) response.destroy();
        else fault.held.add(response);
        return;
      case 'stall':
        sleep(action.ms).then(() => {
          if (!response.destroyed && !exchange.frozen) this.#forward(request, exchange);
        });
        return;
      case 'cut-watch':
        exchange.cutAfterEvents = action.afterEvents ?? 0;
        exchange.cutBy = fault.name;
        this.#forward(request, exchange);
        return;
    }
  }

  #clientOf(headers: IncomingHttpHeaders): string {
    const match = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
    return (match && this.#clients.get(match[1]!.trim())) ?? 'other';
  }

  /** Sends the request to the apiserver and relays the answer; a watch with a cut armed is broken off mid-event. */
  #forward(request: IncomingMessage, exchange: Exchange): void {
    const { record, response } = exchange;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers.host = this.#target.host;
    record.forwardedMs = performance.now();
    const upstreamRequest = https.request({
      protocol: 'https:',
      hostname: this.#target.hostname,
      port: this.#target.port,
      method: request.method,
      path: request.url,
      headers,
      agent: this.#agent,
    });
    const breakOff = () => {
      record.broken = true;
      upstreamRequest.destroy();
      // A response the proxy ended on purpose (a 410 event) is left to flush.
      if (!response.writableEnded) response.destroy();
    };
    upstreamRequest.on('error', (error: NodeJS.ErrnoException) => {
      record.upstreamError ??= error.code ?? error.message;
      breakOff();
    });
    response.on('close', () => {
      if (!response.writableFinished) upstreamRequest.destroy();
    });
    upstreamRequest.on('response', (upstream) => {
      exchange.upstream = upstream;
      if (exchange.frozen) {
        upstream.pause();
        return;
      }
      record.answeredMs = performance.now();
      record.status = upstream.statusCode;
      const responseHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upstream.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) responseHeaders[name] = value;
      }
      response.writeHead(upstream.statusCode ?? 502, responseHeaders);
      upstream.on('error', breakOff);
      upstream.on('aborted', breakOff);
      upstream.on('data', (chunk: Buffer) => {
        if (exchange.frozen || record.broken) return;
        if (exchange.cutAfterEvents === undefined || upstream.statusCode !== 200) {
          response.write(chunk);
          return;
        }
        // A watch to cut: pass the armed number of whole events (lines), then half of the next one, then break.
        let pending = exchange.pending ? Buffer.concat([exchange.pending, chunk]) : chunk;
        for (let newline = pending.indexOf(10); newline >= 0; newline = pending.indexOf(10)) {
          if (exchange.cutAfterEvents <= 0) {
            response.write(pending.subarray(0, Math.max(1, Math.floor(newline / 2))));
            record.fault = exchange.cutBy;
            breakOff();
            return;
          }
          response.write(pending.subarray(0, newline + 1));
          pending = pending.subarray(newline + 1);
          exchange.cutAfterEvents -= 1;
        }
        exchange.pending = pending;
      });
      upstream.on('end', () => {
        if (exchange.frozen || record.broken) return;
        if (exchange.pending?.length) response.write(exchange.pending);
        response.end();
      });
    });
    request.pipe(upstreamRequest);
  }
}

/** The apiserver's reading of a request: verb, resource (with subresource), namespace and name. */
export function requestInfo(request: Pick<IncomingMessage, 'method' | 'url'>, client: string): RequestInfo {
  const url = new URL(request.url ?? '/', 'https://proxy.invalid');
  const segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  const method = (request.method ?? 'GET').toUpperCase();
  let rest: string[];
  if (segments[0] === 'api') rest = segments.slice(2);
  else if (segments[0] === 'apis') rest = segments.slice(3);
  else return { client, verb: method === 'GET' ? 'get' : 'other', resource: '', path: url.pathname };
  let namespace: string | undefined;
  // namespaces/<ns>/<resource>... is namespaced; namespaces/<name>[/status|/finalize] is the Namespace itself.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [base = '', name, subresource] = rest;
  const resource = subresource ? `${base}/${subresource}` : base;
  const watch = url.searchParams.get('watch');
  let verb: Verb;
  switch (method) {
    case 'GET':
      verb = name !== undefined ? 'get' : watch === 'true' || watch === '1' ? 'watch' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name !== undefined ? 'delete' : 'deletecollection';
      break;
    default:
      verb = 'other';
  }
  return { client, verb, resource, path: url.pathname, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}) };
}

/** Forwarded, and not refused a connection: the apiserver got it, or may have (a reset mid-request). */
export function reachedApiServer(record: RequestRecord): boolean {
  return record.forwardedMs !== undefined && record.upstreamError !== 'ECONNREFUSED';
}

export function isWrite(verb: Verb): boolean {
  return WRITE_VERBS.includes(verb);
}

export function matches(match: Match, info: RequestInfo): boolean {
  const fits = <T>(wanted: T | readonly T[] | undefined, value: T | undefined) =>
    wanted === undefined || (Array.isArray(wanted) ? (wanted as readonly T[]).includes(value as T) : wanted === value);
  return (
    fits(match.client, info.client) &&
    fits(match.verb, info.verb) &&
    fits(match.resource, info.resource) &&
    fits(match.namespace, info.namespace) &&
    (match.write === undefined || match.write === isWrite(info.verb))
  );
}

function inWindow(filter: RequestFilter, record: RequestRecord): boolean {
  return (filter.sinceMs === undefined || record.receivedMs >= filter.sinceMs) && (filter.untilMs === undefined || record.receivedMs < filter.untilMs);
}

/** Watch-only actions leave other requests alone, so `{ resource: 'secrets' }` can mean "its watches". */
function appliesTo(action: FaultAction, info: RequestInfo): boolean {
  return (action.kind !== 'cut-watch' && action.kind !== 'gone') || info.verb === 'watch';
}

function statusBody(code: number, reason: string, message: string, retryAfterSeconds?: number): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(retryAfterSeconds !== undefined ? { details: { retryAfterSeconds } } : {}),
    code,
  });
}

function answerStatus(response: ServerResponse, record: RequestRecord, code: number, reason?: string, retryAfterSeconds?: number): void {
  const why = reason ?? STATUS_REASONS[code] ?? 'InternalError';
  const body = statusBody(code, why, `injected by the fault proxy: ${why}`, retryAfterSeconds);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  record.answeredMs = performance.now();
  record.status = code;
  response.writeHead(code, headers);
  response.end(body);
}

function answerGone(response: ServerResponse, record: RequestRecord, as: 'event' | 'status'): void {
  if (as === 'status') {
    answerStatus(response, record, 410, 'Expired');
    return;
  }
  record.answeredMs = performance.now();
  record.status = 200;
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(`${goneEvent()}\n`);
}

/** The ERROR watch event the apiserver sends for a resourceVersion too old to resume from. */
function goneEvent(): string {
  const status = JSON.parse(statusBody(410, 'Expired', 'too old resource version (injected by the fault proxy)')) as unknown;
  return JSON.stringify({ type: 'ERROR', object: status });
}
