import { expect } from 'chai';
import { Counter, Registry } from 'prom-client';
import { type ObservabilityServer, type ProbeResult, parseBindAddress, startObservabilityServer } from '../../../src/observability/health-server.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

async function get(server: ObservabilityServer, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { method });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('parseBindAddress', () => {
  it('reads :port, host:port and [ipv6]:port', () => {
    expect(parseBindAddress(':8080')).to.deep.equal({ port: 8080 });
    expect(parseBindAddress('127.0.0.1:8081')).to.deep.equal({ host: '127.0.0.1', port: 8081 });
    expect(parseBindAddress('localhost:0')).to.deep.equal({ host: 'localhost', port: 0 });
    expect(parseBindAddress('[::]:9090')).to.deep.equal({ host: '::', port: 9090 });
  });

  it('refuses addresses without a port or with a port out of range', () => {
    expect(() => parseBindAddress('8080')).to.throw(/host:port/);
    expect(() => parseBindAddress('127.0.0.1')).to.throw(/host:port/);
    expect(() => parseBindAddress(':99999')).to.throw(/at most 65535/);
    expect(() => parseBindAddress('::1:80')).to.throw(/host:port/);
  });
});

describe('startObservabilityServer', () => {
  let server: ObservabilityServer | undefined;
  let ready: ProbeResult;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(withMetrics: boolean, withProbes = true): Promise<{ registry: Registry; server: ObservabilityServer }> {
    const registry = new Registry();
    new Counter({ name: 'test_things_total', help: 'Things.', registers: [registry] }).inc(3);
    ready = { ok: false, message: 'informers not synced yet' };
    server = await startObservabilityServer({
      bindAddress: { host: '127.0.0.1', port: 0 },
      ...(withProbes ? { probes: { liveness: () => ({ ok: true, message: 'ok' }), readiness: () => ready } } : {}),
      ...(withMetrics ? { metrics: registry } : {}),
      logger: silentLogger(),
    });
    return { registry, server };
  }

  it('binds a free port when asked for port 0, and says which', async () => {
    const { server } = await start(false);
    expect(server.port).to.be.greaterThan(0);
    expect(server.host).to.equal('127.0.0.1');
  });

  it('answers /healthz with 200 while the process runs', async () => {
    const { server } = await start(false);
    expect(await get(server, '/healthz')).to.include({ status: 200, body: 'ok\n' });
  });

  it('answers /readyz with 503 and the reason until ready, then 200', async () => {
    const { server } = await start(false);
    expect(await get(server, '/readyz')).to.include({ status: 503, body: 'informers not synced yet\n' });
    ready = { ok: true, message: 'ok: informers synced' };
    expect(await get(server, '/readyz')).to.include({ status: 200, body: 'ok: informers synced\n' });
    expect(await get(server, '/readyz?verbose=1')).to.include({ status: 200 });
  });

  it('serves /metrics in the Prometheus text format when given a registry', async () => {
    const { server } = await start(true);
    const res = await get(server, '/metrics');
    expect(res.status).to.equal(200);
    expect(res.type).to.match(/^text\/plain; version=0\.0\.4/);
    expect(res.body).to.include('test_things_total 3');
  });

  it('serves only what it was given', async () => {
    const { server } = await start(true, false);
    expect((await get(server, '/healthz')).status).to.equal(404);
    expect((await get(server, '/metrics')).status).to.equal(200);
    await server.close();
    const probesOnly = await start(false, true);
    expect((await get(probesOnly.server, '/metrics')).status).to.equal(404);
  });

  it('refuses methods other than GET and HEAD', async () => {
    const { server } = await start(true);
    expect((await get(server, '/metrics', 'POST')).status).to.equal(405);
    expect(await get(server, '/healthz', 'HEAD')).to.include({ status: 200, body: '' });
  });

  it('returns 404 for unknown paths', async () => {
    const { server } = await start(true);
    expect((await get(server, '/debug/pprof')).status).to.equal(404);
  });

  it('fails to start, rather than hang, when the port is taken', async () => {
    const { server: first } = await start(false);
    let error: unknown;
    try {
      await startObservabilityServer({ bindAddress: { host: '127.0.0.1', port: first.port }, logger: silentLogger() });
    } catch (e) {
      error = e;
    }
    expect((error as NodeJS.ErrnoException | undefined)?.code).to.equal('EADDRINUSE');
  });
});
