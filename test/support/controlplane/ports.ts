import net from 'node:net';

/** Asks the kernel for a free port on `host`. Another process may still take it before it is used. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await listen(server, 0, host);
  const address = server.address();
  await close(server);
  if (address === null || typeof address === 'string') throw new Error(`could not read the port bound on ${host}`);
  return address.port;
}

/** Throws a plain-worded error when `host:port` cannot be bound (another process holds it). */
export async function assertPortFree(port: number, host = '127.0.0.1'): Promise<void> {
  const server = net.createServer();
  try {
    await listen(server, port, host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new Error(`port ${host}:${port} is already in use by another process`, { cause: error });
    }
    throw new Error(`cannot bind ${host}:${port}: ${String(error)}`, { cause: error });
  }
  await close(server);
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
