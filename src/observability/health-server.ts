import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/** A listen address: `:8080` (all interfaces), `127.0.0.1:8080`, `[::1]:8080`; port 0 picks a free port. */
export interface BindAddress {
  host?: string;
  port: number;
}

/** Parses `host:port` as written in --metrics-bind-address / --health-probe-bind-address. */
export function parseBindAddress(text: string): BindAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new Error('must be host:port, such as :8080 or 127.0.0.1:8080');
  const port = Number(match[3]);
  if (port > 65535) throw new Error('port must be at most 65535');
  const host = match[1] ?? match[2] ?? '';
  return host === '' ? { port } : { host, port };
}

export interface ProbeResult {
  ok: boolean;
  /** Why, in a few words; served as the response body. */
  message: string;
}

export interface Probes {
  /** /healthz: the process is alive and its event loop turns. */
  liveness(): ProbeResult;
  /** /readyz: see main.ts for what ready means for a leader and for a standby. */
  readiness(): ProbeResult;
}

export interface ObservabilityServerOptions {
  bindAddress: BindAddress;
  /** Serve /healthz and /readyz. */
  probes?: Probes;
  /** Serve /metrics from this registry. */
  metrics?: Registry;
  logger: Logger;
}

export interface ObservabilityServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/** Starts an HTTP server for probes, metrics, or both; resolves once it listens. */
export async function startObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const { probes, metrics, logger } = options;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('observability endpoint failed', { path: req.url, error: (error as Error).message });
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  // Probes and scrapes are short; don't let idle keep-alive sockets delay shutdown.
  server.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (probes && (path === '/healthz' || path === '/livez')) {
      probe(res, probes.liveness());
    } else if (probes && path === '/readyz') {
      probe(res, probes.readiness());
    } else if (metrics && path === '/metrics') {
      const body = await metrics.metrics();
      send(res, 200, body, { 'Content-Type': metrics.contentType });
    } else {
      send(res, 404, 'not found\n');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.bindAddress.port, ...(options.bindAddress.host ? { host: options.bindAddress.host } : {}) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error('observability server error', { error: error.message }));
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    host: address.address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function probe(res: ServerResponse, result: ProbeResult): void {
  send(res, result.ok ? 200 : 503, `${result.message}\n`);
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
