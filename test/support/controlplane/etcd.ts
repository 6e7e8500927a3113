import http from 'node:http';
import path from 'node:path';
import { ManagedProcess } from './process.ts';
import { assertPortFree, freePort } from './ports.ts';

export interface EtcdOptions {
  binary: string;
  /** Holds the data folder and the log. */
  workDir: string;
  startTimeoutMs: number;
}

/** A single-member etcd on loopback with throwaway data, configured as envtest configures it. */
export class Etcd {
  readonly dataDir: string;
  private readonly options: EtcdOptions;
  private process: ManagedProcess | undefined;
  private clientPort = 0;
  private peerPort = 0;

  constructor(options: EtcdOptions) {
    this.options = options;
    this.dataDir = path.join(options.workDir, 'etcd-data');
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get managedProcess(): ManagedProcess | undefined {
    return this.process;
  }

  /** Picks free ports the first time; later starts (restarts) reuse them and the data folder, so the apiserver reconnects. */
  async start(): Promise<void> {
    if (this.clientPort === 0) {
      this.clientPort = await freePort();
      this.peerPort = await freePort();
    }
    await assertPortFree(this.clientPort);
    const peerUrl = `http://127.0.0.1:${this.peerPort}`;
    this.process ??= new ManagedProcess({
      name: 'etcd',
      binary: this.options.binary,
      logPath: path.join(this.options.workDir, 'etcd.log'),
      args: [
        '--name=default',
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=${this.url}`,
        `--advertise-client-urls=${this.url}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        // Test data is thrown away, so durability is not worth the fsync latency.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
    });
    await this.process.start();
    await this.process.waitUntilReady(() => this.healthy(), { timeoutMs: this.options.startTimeoutMs });
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }

  private healthy(): Promise<boolean> {
    return new Promise((resolve) => {
      const request = http.get(`${this.url}/health`, { timeout: 2000 }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve(response.statusCode === 200 && body.includes('"health":"true"')));
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(false));
    });
  }
}
