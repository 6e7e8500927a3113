import { Readable } from 'node:stream';
import type { Configuration, KubeConfig, RequestContext, SecurityAuthentication } from '@kubernetes/client-node';
import {
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  EventsV1Api,
  IsomorphicFetchHttpLibrary,
  PatchStrategy,
  ResponseContext,
  ServerConfiguration,
  setHeaderMiddleware,
  setHeaderOptions,
  Watch,
  wrapHttpLibrary,
} from './client-node.ts';

/** The typed API clients the operator uses, made once from one KubeConfig. */
export interface KubeClients {
  core: CoreV1Api;
  customObjects: CustomObjectsApi;
  events: EventsV1Api;
}

const USER_AGENT = 'ecr-pullsecrets-operator/0.1.0';

export function createKubeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    core: makeApiClient(kubeConfig, CoreV1Api),
    customObjects: makeApiClient(kubeConfig, CustomObjectsApi),
    events: makeApiClient(kubeConfig, EventsV1Api),
  };
}

/**
 * `kubeConfig.makeApiClient`, but every client made from one KubeConfig shares one connection pool.
 * client-node 2.0 gives each request a new undici Agent, so each call opened its own TCP+TLS
 * connection (a handshake with a client certificate on both ends) and left it idle afterwards:
 * at 1,000 registries that was most of the operator's and the apiserver's CPU.
 */
export function makeApiClient<T>(kubeConfig: KubeConfig, apiType: new (configuration: Configuration) => T): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return new apiType(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: sharedPoolAuthentication(kubeConfig) },
      middleware: [setHeaderMiddleware('User-Agent', USER_AGENT)],
      httpApi: dispatcherHttpLibrary,
    }),
  );
}

/** The part of undici's Dispatcher (the pooled Agent client-node made) the transport below uses. */
interface RequestDispatcher {
  request(options: { origin: string; path: string; method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<{
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    body: Readable & { text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer> };
  }>;
}

const fetchHttpLibrary = new IsomorphicFetchHttpLibrary();

/**
 * client-node's HTTP transport (its `httpApi` setting), sending each call with undici's `request` on the
 * dispatcher the KubeConfig chose, where client-node's own uses `fetch` on it. Same connection pool, TLS,
 * headers and bodies; fetch's web streams and Headers objects cost the operator about 2 ms of CPU per call,
 * `request` under 1 (1,000 Secret creates: 1.9-2.5 s against 0.8-1.0 s). Calls without a dispatcher
 * (a kubeconfig that needs none) keep client-node's transport.
 */
const dispatcherHttpLibrary = wrapHttpLibrary({
  async send(request: RequestContext): Promise<ResponseContext> {
    const dispatcher = request.getDispatcher() as RequestDispatcher | undefined;
    if (dispatcher === undefined) return fetchHttpLibrary.send(request).toPromise();
    const url = new URL(request.getUrl());
    const body = request.getBody();
    const signal = request.getSignal();
    const response = await dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: request.getHttpMethod(),
      headers: request.getHeaders(),
      ...(typeof body === 'string' ? { body } : {}),
      ...(signal ? { signal } : {}),
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return new ResponseContext(response.statusCode, headers, {
      text: () => response.body.text(),
      binary: async () => Buffer.from(await response.body.arrayBuffer()),
      stream: () => Readable.toWeb(response.body) as ReadableStream<Uint8Array>,
    });
  },
});

const authByKubeConfig = new WeakMap<KubeConfig, SecurityAuthentication>();

/**
 * How long the headers client-node computed for one request (a bearer token read from its file or
 * an exec plugin, Impersonate-User) serve the next requests. client-node recomputes everything per
 * request, reading the CA and client certificate again (a file read in a Pod) and making an undici
 * Agent that is then dropped: 2% of the operator's CPU at 1,000 and at 10,000 registries. client-go
 * re-reads an in-cluster token file at most once a minute; a rotated token stays valid for longer.
 */
export const AUTH_HEADERS_TTL_MS = 10_000;

/**
 * `kubeConfig.applySecurityAuthentication`, over one connection pool: the first request's dispatcher
 * serves every request (the TLS identity is fixed for a KubeConfig), and its headers are reused for
 * AUTH_HEADERS_TTL_MS. Exported for tests; one per KubeConfig.
 */
export function sharedPoolAuthentication(kubeConfig: KubeConfig, now: () => number = () => performance.now()): SecurityAuthentication {
  const existing = authByKubeConfig.get(kubeConfig);
  if (existing) return existing;
  let pool: ReturnType<RequestContext['getDispatcher']>;
  let headers: { entries: [string, string][]; until: number } | undefined;
  const auth: SecurityAuthentication = {
    getName: () => 'kubeconfig authentication over one connection pool',
    async applySecurityAuthentication(context: RequestContext) {
      if (pool !== undefined && headers !== undefined && now() < headers.until) {
        for (const [name, value] of headers.entries) context.setHeaderParam(name, value);
        context.setDispatcher(pool);
        return;
      }
      const before = { ...context.getHeaders() };
      await kubeConfig.applySecurityAuthentication(context);
      headers = { entries: Object.entries(context.getHeaders()).filter(([name, value]) => before[name] !== value), until: now() + AUTH_HEADERS_TTL_MS };
      const fresh = context.getDispatcher();
      if (pool === undefined) pool = fresh;
      else if (fresh !== undefined) context.setDispatcher(pool);
    },
  };
  authByKubeConfig.set(kubeConfig, auth);
  return auth;
}

/** Accept headers that make the apiserver answer a watch, or a list, with each object's metadata only. */
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const METADATA_ONLY_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/**
 * client-node's Watch over the KubeConfig's shared connection pool, optionally asking for metadata
 * only (`accept`: METADATA_ONLY). Watch uses just these two members of the KubeConfig it is given.
 */
export function makeWatch(kubeConfig: KubeConfig, options: { accept?: string } = {}): Watch {
  const auth = sharedPoolAuthentication(kubeConfig);
  const config: Pick<KubeConfig, 'getCurrentCluster' | 'applySecurityAuthentication'> = {
    getCurrentCluster: () => kubeConfig.getCurrentCluster(),
    async applySecurityAuthentication(context: RequestContext) {
      await auth.applySecurityAuthentication(context);
      if (options.accept) context.setHeaderParam('Accept', options.accept);
    },
  };
  const watch = new Watch(config as KubeConfig);
  // client-node 2.0 types its inactivity timeout private but reads it per watch; fail loudly if that changes.
  const timeout = watch as unknown as { requestTimeoutMs?: unknown };
  if (typeof timeout.requestTimeoutMs !== 'number') throw new Error("client-node's Watch has no requestTimeoutMs to raise; quiet watches would end every 30 s");
  timeout.requestTimeoutMs = WATCH_INACTIVITY_TIMEOUT_MS;
  return watch;
}

/**
 * How long a watch may go without a byte before client-node drops it. Its default, 30 s, ended every
 * quiet watch twice a minute. The apiserver ends each informer watch itself at its `timeoutSeconds`
 * (under 10 minutes, runtime/informer.ts) and sends a bookmark shortly before; in between, bookmarks
 * come about once a minute only once the resource has changed since the apiserver started. So this is
 * longer than the longest watch: it only drops a connection that died without closing.
 */
export const WATCH_INACTIVITY_TIMEOUT_MS = 11 * 60_000;

/** Request options that send a body as the given patch type. */
export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const jsonPatch = () => setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
/** Request options that ask for metadata only (list calls through the typed clients). */
export const metadataOnly = () => setHeaderOptions('Accept', METADATA_ONLY_LIST);
