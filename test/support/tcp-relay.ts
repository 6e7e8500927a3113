import { connect, type Socket } from 'node:net';

/** Keeps `socket` in `sockets` while it is open; an error closes it. */
export function trackSocket(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.on('error', () => socket.destroy());
  socket.on('close', () => sockets.delete(socket));
}

/**
 * Joins an accepted `client` to a new connection to 127.0.0.1:`targetPort`, both tracked in `sockets`;
 * either side closing closes the other, as a plain TCP path would.
 */
export function relayTo(client: Socket, targetPort: number, sockets: Set<Socket>): void {
  const upstream = connect(targetPort, '127.0.0.1');
  trackSocket(sockets, upstream);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}
