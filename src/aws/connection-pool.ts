import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/**
 * Keep-alive connections shared by every AWS SDK client the operator makes. The operator makes a
 * client per GetAuthorizationToken call, per role session and per import cycle; each SDK client would
 * otherwise open its own connection (against AWS, a TLS handshake) and leave it behind. Node's agents
 * pool per host and port, so calls to one regional endpoint reuse one another's connections.
 */
export interface AwsConnectionPool {
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
  /** Closes every pooled connection, idle or not; for when the operator stops. */
  close(): void;
}

/** As many as the SDK's own agents allow per host. */
const MAX_SOCKETS_PER_HOST = 50;
/** An idle connection is closed after this, before an AWS endpoint (which drops idle ones after about a minute) closes it under a request. */
const IDLE_MS = 30_000;

export function createAwsConnectionPool(): AwsConnectionPool {
  // `timeout` is the idle limit: Node applies it to a socket while it waits in the free list, and the
  // SDK sets its own request timeout on a socket it uses.
  const settings = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_HOST, timeout: IDLE_MS };
  const httpAgent = new HttpAgent(settings);
  const httpsAgent = new HttpsAgent(settings);
  return {
    httpAgent,
    httpsAgent,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
