import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { authenticate, type Principal } from './authenticate.ts';
import type { CallCounters } from './counters.ts';
import { ECR_CONTENT_TYPE, ECR_SIGNING_SERVICE, ECR_TARGET_PREFIX, ecrAuthError, ecrFaultError, runEcrAction } from './ecr-api.ts';
import { AuthFailure, EmulatedError } from './errors.ts';
import type { FaultInjector, FaultOutcome } from './faults.ts';
import {
  authorizeRegistry,
  isRegistryPath,
  parseRegistryRoute,
  type RegistryResponse,
  registryFaultResponse,
  serveRegistry,
  tamperRegistryResponse,
  tokenOfRequest,
} from './registry-v2.ts';
import type { OidcKeySource } from './oidc.ts';
import { POD_IDENTITY_ACTION, POD_IDENTITY_PATH, type PodIdentityResponse, podIdentityFaultResponse, servePodIdentity } from './pod-identity.ts';
import { accessKeyIdOf, type ReceivedRequest } from './sigv4.ts';
import type { EmulatorState } from './state.ts';
import { assumeDenied, parseStsForm, renderStsError, runStsAction, STS_SIGNING_SERVICE, stsAuthError, stsFaultError } from './sts-api.ts';
import { runAssumeRoleWithWebIdentity, WEB_IDENTITY_ACTION, webIdentityDenied } from './web-identity.ts';

/**
 * One loopback HTTP server for every face of the emulator, routed per request:
 * `/v2/...` (or `/registry/<account>/<region>/v2/...`) is the registry API, a POST with
 * `X-Amz-Target` is the ECR JSON API, a form-encoded POST is STS, and `/pod-identity/credentials`
 * is EKS Pod Identity's container credentials endpoint.
 */

const MAX_BODY_BYTES = 1024 * 1024;

export interface ServerDependencies {
  state: EmulatorState;
  faults: FaultInjector;
  counters: CallCounters;
  oidcKeys: OidcKeySource;
  proxyEndpoint(accountId: string, region: string): string;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function headerString(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class EmulatorServer {
  private readonly deps: ServerDependencies;
  private readonly server: Server;
  #connectionsAccepted = 0;

  constructor(deps: ServerDependencies) {
    this.deps = deps;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => this.internalError(res, error));
    });
    this.server.on('connection', () => {
      this.#connectionsAccepted++;
    });
  }

  get connectionsAccepted(): number {
    return this.#connectionsAccepted;
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the emulator is not listening on a TCP port');
    return address;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        this.sendJsonError(res, new EmulatedError('RequestEntityTooLargeException', 413, 'Request body too large'), true);
      } else {
        req.socket.destroy();
      }
      return;
    }
    const rawTarget = req.url ?? '/';
    const rawPath = rawTarget.split('?')[0] ?? '/';
    const request: ReceivedRequest = { method: req.method ?? 'GET', rawTarget, headers: req.headers, body };

    if (rawPath === POD_IDENTITY_PATH) return this.handlePodIdentity(req, res);
    if (isRegistryPath(rawPath)) return this.handleRegistry(req, res, rawPath);
    if (request.method === 'POST' && headerString(req, 'x-amz-target') !== undefined) return this.handleEcr(req, res, request);
    if (request.method === 'POST' && (headerString(req, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
      return this.handleSts(req, res, request);
    }
    this.sendJsonError(res, new EmulatedError('UnknownOperationException', 404, `No route for ${request.method} ${rawPath}`));
  }

  /** Waits for injected latency; tells whether the connection was reset and nothing more must be sent. */
  private async applyLatencyAndReset(req: IncomingMessage, outcome: FaultOutcome): Promise<boolean> {
    if (outcome.latencyMs > 0) await sleep(outcome.latencyMs);
    if (outcome.failure?.kind === 'connectionReset') {
      req.socket.destroy();
      return true;
    }
    return false;
  }

  private async handleEcr(req: IncomingMessage, res: ServerResponse, request: ReceivedRequest): Promise<void> {
    const target = headerString(req, 'x-amz-target') ?? '';
    const action = target.startsWith(ECR_TARGET_PREFIX) ? target.slice(ECR_TARGET_PREFIX.length) : target;
    this.deps.counters.record(action, accessKeyIdOf(req.headers));
    if (!target.startsWith(ECR_TARGET_PREFIX) || !(headerString(req, 'content-type') ?? '').startsWith(ECR_CONTENT_TYPE)) {
      this.sendJsonError(res, new EmulatedError('UnknownOperationException', 400, `Unknown operation ${target}`));
      return;
    }
    let principal: Principal;
    try {
      principal = authenticate(request, ECR_SIGNING_SERVICE, this.deps.state, Date.now());
    } catch (error) {
      if (error instanceof AuthFailure) return this.sendJsonError(res, ecrAuthError(error));
      throw error;
    }
    const outcome = this.deps.faults.take(action, principal.accessKey.accessKeyId);
    if (await this.applyLatencyAndReset(req, outcome)) return;
    const failure = outcome.failure;
    if (failure && failure.kind !== 'connectionReset') {
      return this.sendJsonError(res, ecrFaultError(failure.kind, action, principal, failure.message));
    }
    let result: unknown;
    try {
      result = runEcrAction(
        { state: this.deps.state, proxyEndpoint: this.deps.proxyEndpoint },
        action,
        request.body,
        principal,
      );
    } catch (error) {
      if (error instanceof EmulatedError) return this.sendJsonError(res, error);
      throw error;
    }
    this.send(res, 200, { 'content-type': ECR_CONTENT_TYPE }, Buffer.from(JSON.stringify(result), 'utf8'));
  }

  private async handleSts(req: IncomingMessage, res: ServerResponse, request: ReceivedRequest): Promise<void> {
    const form = parseStsForm(request.body);
    const action = form.get('Action') ?? 'Unknown';
    this.deps.counters.record(action, accessKeyIdOf(req.headers));
    if (action === WEB_IDENTITY_ACTION) return this.handleWebIdentity(req, res, form);
    let principal: Principal;
    try {
      principal = authenticate(request, STS_SIGNING_SERVICE, this.deps.state, Date.now());
    } catch (error) {
      if (error instanceof AuthFailure) return this.sendStsError(res, stsAuthError(error));
      throw error;
    }
    const outcome = this.deps.faults.take(action, principal.accessKey.accessKeyId);
    if (await this.applyLatencyAndReset(req, outcome)) return;
    const failure = outcome.failure;
    if (failure && failure.kind !== 'connectionReset') {
      return this.sendStsError(res, stsFaultError(failure.kind, assumeDenied(principal, form.get('RoleArn') ?? '*'), failure.message));
    }
    let xml: string;
    try {
      xml = runStsAction(this.deps.state, form, principal);
    } catch (error) {
      if (error instanceof EmulatedError) return this.sendStsError(res, error);
      throw error;
    }
    this.send(res, 200, { 'content-type': 'text/xml' }, Buffer.from(xml, 'utf8'));
  }

  /** Not SigV4-signed: the web identity token is the credential, so faults are scoped by action only. */
  private async handleWebIdentity(req: IncomingMessage, res: ServerResponse, form: URLSearchParams): Promise<void> {
    const outcome = this.deps.faults.take(WEB_IDENTITY_ACTION, undefined);
    if (await this.applyLatencyAndReset(req, outcome)) return;
    const failure = outcome.failure;
    if (failure && failure.kind !== 'connectionReset') {
      return this.sendStsError(res, stsFaultError(failure.kind, webIdentityDenied(), failure.message));
    }
    let xml: string;
    try {
      xml = await runAssumeRoleWithWebIdentity({ state: this.deps.state, keys: this.deps.oidcKeys }, form);
    } catch (error) {
      if (error instanceof EmulatedError) return this.sendStsError(res, error);
      throw error;
    }
    this.send(res, 200, { 'content-type': 'text/xml' }, Buffer.from(xml, 'utf8'));
  }

  private async handlePodIdentity(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.deps.counters.record(POD_IDENTITY_ACTION, undefined);
    const outcome = this.deps.faults.take(POD_IDENTITY_ACTION, undefined);
    if (await this.applyLatencyAndReset(req, outcome)) return;
    const failure = outcome.failure;
    const response: PodIdentityResponse =
      failure && failure.kind !== 'connectionReset'
        ? podIdentityFaultResponse(failure.kind, failure.message)
        : servePodIdentity(req.method ?? 'GET', req.headers, this.deps.state);
    this.send(res, response.status, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(response.body), 'utf8'));
  }

  private async handleRegistry(req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
    const route = parseRegistryRoute(rawPath);
    const token = tokenOfRequest(req.headers, this.deps.state);
    this.deps.counters.record(route.action, token?.accessKeyId);
    const authorization = authorizeRegistry(route, req.headers, token, this.deps.state.clock.now(), this.deps.state);
    if ('refusal' in authorization) return this.sendRegistry(res, authorization.refusal);
    const outcome = this.deps.faults.take(route.action, token?.accessKeyId);
    if (await this.applyLatencyAndReset(req, outcome)) return;
    const failure = outcome.failure;
    if (failure && failure.kind !== 'connectionReset') return this.sendRegistry(res, registryFaultResponse(failure.kind, failure.message));
    const response = serveRegistry(req.method ?? 'GET', route, authorization.registry, this.deps.state);
    this.sendRegistry(res, outcome.tamper ? tamperRegistryResponse(outcome.tamper, response, req.url ?? rawPath) : response);
  }

  private send(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer, close = false): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      ...headers,
      'x-amzn-RequestId': randomUUID(),
      'content-length': String(body.length),
      ...(close ? { connection: 'close' } : {}),
    });
    res.end(body);
  }

  private sendJsonError(res: ServerResponse, error: EmulatedError, close = false): void {
    const body = Buffer.from(JSON.stringify({ __type: error.code, message: error.message }), 'utf8');
    this.send(res, error.status, { 'content-type': ECR_CONTENT_TYPE, 'x-amzn-ErrorType': error.code }, body, close);
  }

  private sendStsError(res: ServerResponse, error: EmulatedError): void {
    this.send(res, error.status, { 'content-type': 'text/xml' }, Buffer.from(renderStsError(error, randomUUID()), 'utf8'));
  }

  private sendRegistry(res: ServerResponse, response: RegistryResponse): void {
    // For HEAD, node sends the headers (Content-Length included) and drops the body.
    this.send(res, response.status, response.headers, response.body);
  }

  /** Last resort: a bug in the emulator answers 500 instead of taking the test process down. */
  private internalError(res: ServerResponse, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    try {
      this.sendJsonError(res, new EmulatedError('InternalFailure', 500, `ecr-emulator: ${message}`));
    } catch {
      res.destroy();
    }
  }
}
