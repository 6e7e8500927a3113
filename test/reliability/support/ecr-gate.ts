import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { relayTo, trackSocket } from '../../support/tcp-relay.ts';

/**
 * A TCP gate in front of the ECR emulator, for "ECR is unreachable": while shut, nothing listens on
 * its port, so every connection is refused (ECONNREFUSED), as when an endpoint's host is up but
 * the service is not; `open()` listens on the same port again. Bytes pass through untouched, so
 * SigV4 signatures (which cover the Host header, the gate's address) still verify at the emulator.
 */
export class EcrGate {
  readonly port: number;
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server;
  /** Connections accepted while open. */
  accepted = 0;

  private constructor(server: Server, port: number, targetPort: number) {
    this.#server = server;
    this.port = port;
    this.#targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<EcrGate> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the ECR gate has no TCP port');
    const gate = new EcrGate(server, address.port, targetPort);
    server.on('connection', (client) => gate.#accept(client));
    return gate;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isOpen(): boolean {
    return this.#server.listening;
  }

  /** Stops listening and drops every open connection: from now on connections are refused. */
  async shut(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = once(this.#server, 'close');
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Listens on the same port again (retrying briefly should another process hold it). */
  async open(): Promise<void> {
    if (this.#server.listening) return;
    for (let attempt = 0; ; attempt++) {
      const server = createServer();
      server.on('connection', (client) => this.#accept(client));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(this.port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        this.#server = server;
        return;
      } catch (error) {
        if (attempt >= 20) throw new Error(`cannot listen on 127.0.0.1:${this.port} again`, { cause: error });
        await sleep(100);
      }
    }
  }

  async close(): Promise<void> {
    await this.shut();
  }

  #accept(client: Socket): void {
    this.accepted += 1;
    trackSocket(this.#sockets, client);
    relayTo(client, this.#targetPort, this.#sockets);
  }
}
