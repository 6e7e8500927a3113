/**
 * How ESO v0.16.2 reaches the ECR emulator without a patch. Its ECR generator builds an aws-sdk-go v1
 * session whose endpoint resolver (pkg/provider/aws/auth/resolver.go) overrides only Secrets Manager,
 * SSM and STS (AWS_SECRETSMANAGER_ENDPOINT, AWS_SSM_ENDPOINT, AWS_STS_ENDPOINT), and aws-sdk-go
 * v1.55.6 has no AWS_ENDPOINT_URL(_ECR) (service-specific endpoints came only to the v2 SDKs): it always
 * calls https://api.ecr.<region>.amazonaws.com. The SDK's HTTP client is Go's default, which honours
 * HTTPS_PROXY (as a cluster behind a corporate proxy runs it) and SSL_CERT_FILE.
 *
 * So the bench gives ESO HTTPS_PROXY=<this proxy>: it answers CONNECT for api.ecr.<region>.amazonaws.com:443,
 * terminates TLS with a certificate for that name (self-signed, made with openssl, passed to ESO as
 * SSL_CERT_FILE), and pipes the bytes unchanged to the emulator, which verifies each request's SigV4
 * signature over the Host header ESO signed. Go never proxies loopback, so the apiserver is reached
 * directly. Any other CONNECT is refused (403), so nothing leaves the machine.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface EcrTlsProxy {
  /** For HTTPS_PROXY, e.g. http://127.0.0.1:40123. */
  url: string;
  /** The certificate ESO must trust (SSL_CERT_FILE). */
  caPath: string;
  /** CONNECT tunnels opened to the emulator so far. */
  tunnels: () => number;
  stop: () => Promise<void>;
}

export function ecrApiHost(region: string): string {
  return `api.ecr.${region}.amazonaws.com`;
}

export async function startEcrTlsProxy(options: { emulatorPort: number; regions: readonly string[] }): Promise<EcrTlsProxy> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-ecr-proxy-'));
  const hosts = options.regions.map(ecrApiHost);
  const keyPath = path.join(dir, 'key.pem');
  const caPath = path.join(dir, 'cert.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${hosts[0]}`, '-addext', `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}`,
    '-keyout', keyPath, '-out', caPath,
  ]);
  const secureContext = tls.createSecureContext({ key: await fs.readFile(keyPath), cert: await fs.readFile(caPath) });
  const allowed = new Set(hosts.map((h) => `${h}:443`));
  const open = new Set<net.Socket>();
  let tunnels = 0;
  const server = http.createServer((_request, response) => {
    response.writeHead(405).end('CONNECT only\n');
  });
  server.on('connect', (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    if (!allowed.has(request.url ?? '')) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    tunnels += 1;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    const secure = new tls.TLSSocket(client, { isServer: true, secureContext });
    const upstream = net.connect(options.emulatorPort, '127.0.0.1');
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    const close = () => {
      secure.destroy();
      upstream.destroy();
    };
    secure.on('error', close);
    upstream.on('error', close);
    secure.pipe(upstream).pipe(secure);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    caPath,
    tunnels: () => tunnels,
    stop: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
