import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { relayTo, trackSocket } from './tcp-relay.ts';

/**
 * A TCP proxy on 127.0.0.1 in front of another loopback port, for tests of a connection that
 * stalls: `stall()` keeps every connection open but stops forwarding bytes both ways, as a
 * half-dead network path or a frozen peer does; connections opened afterwards are accepted and
 * then stall too. TLS passes through untouched, so a certificate for 127.0.0.1 still verifies.
 */
export class StallProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #stalled = false;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number): Promise<StallProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the stall proxy has no TCP port');
    const proxy = new StallProxy(server, address.port);
    server.on('connection', (client) => proxy.#accept(client, targetPort));
    return proxy;
  }

  /** The proxy's origin for a client URL, e.g. https://127.0.0.1:40123. */
  url(protocol = 'https'): string {
    return `${protocol}://127.0.0.1:${this.port}`;
  }

  /** Stops forwarding bytes in both directions, on every connection open now or later. */
  stall(): void {
    this.#stalled = true;
    for (const socket of this.#sockets) {
      socket.unpipe();
      socket.pause();
    }
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #accept(client: Socket, targetPort: number): void {
    trackSocket(this.#sockets, client);
    if (this.#stalled) {
      client.pause();
      return;
    }
    relayTo(client, targetPort, this.#sockets);
  }
}
