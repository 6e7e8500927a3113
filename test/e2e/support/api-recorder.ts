import fs from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { dump } from 'js-yaml';

/** One request the operator sent to the API server, and the status it got. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  status: number;
  atMs: number;
}

/**
 * A loopback HTTP proxy in front of the API server that records every request passing through:
 * method, path and status. The client's own credentials (its bearer token) are forwarded untouched,
 * so the API server authenticates and authorizes it exactly as without the proxy. Watches stream
 * through. It exists to audit which API calls the operator makes against the RBAC rules it is given.
 */
export class ApiRecorder {
  readonly url: string;
  readonly #server: Server;
  readonly #requests: RecordedRequest[] = [];
  readonly #open = new Set<{ destroy(): void }>();
  readonly #agent: https.Agent;

  private constructor(server: Server, url: string, agent: https.Agent) {
    this.#server = server;
    this.url = url;
    this.#agent = agent;
  }

  static async start(options: { apiServer: string; caCertPem: string }): Promise<ApiRecorder> {
    const upstream = new URL(options.apiServer);
    const agent = new https.Agent({ ca: options.caCertPem, keepAlive: true });
    let recorder: ApiRecorder | undefined;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const record: RecordedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', status: 0, atMs: Date.now() };
      recorder!.#requests.push(record);
      const headers = { ...req.headers, host: upstream.host };
      const forward = https.request(
        { protocol: 'https:', hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
        (answer) => {
          record.status = answer.statusCode ?? 0;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      const open = { destroy: () => forward.destroy() };
      recorder!.#open.add(open);
      forward.on('close', () => recorder!.#open.delete(open));
      forward.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      // A client that gives up (an aborted watch) ends the upstream request too.
      res.on('close', () => forward.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    recorder = new ApiRecorder(server, `http://127.0.0.1:${port}`, agent);
    return recorder;
  }

  requests(): readonly RecordedRequest[] {
    return this.#requests;
  }

  /**
   * A kubeconfig that sends `token` through this recorder. client-node accepts a plain-HTTP server only
   * with insecure-skip-tls-verify; TLS to the API server is the recorder's, verified against its CA.
   */
  async writeKubeconfig(filePath: string, token: string): Promise<string> {
    const document = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'recorder', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'recorded', user: { token } }],
      contexts: [{ name: 'recorder', context: { cluster: 'recorder', user: 'recorded' } }],
      'current-context': 'recorder',
    };
    await fs.writeFile(filePath, dump(document), { mode: 0o600 });
    return filePath;
  }

  async stop(): Promise<void> {
    for (const open of this.#open) open.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }
}
