import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.ts';
import { type OperatorDeps, type OperatorSettings, type RunningOperator, startOperator } from '../../src/operator.ts';
import { testEnv } from './env.ts';

/** The operator running in this test process against the test control plane, with its log lines captured. */
export interface TestOperator {
  operator: RunningOperator;
  /** Every log line so far, as written (JSON). */
  logs(): string;
  stop(): Promise<void>;
}

export async function startTestOperator(settings: Partial<OperatorSettings> = {}, deps: Pick<OperatorDeps, 'metrics'> = {}): Promise<TestOperator> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      if (process.env.OPERATOR_LOGS === '1') process.stderr.write(chunk);
      callback();
    },
  });
  const operator = startOperator({
    kubeConfig: testEnv().kubeConfig(),
    settings: { workers: 4, allowedEndpoints: [], ...settings },
    logger: createLogger({ level: 'debug', stream: sink }),
    ...deps,
  });
  await operator.waitForSync(AbortSignal.timeout(30_000));
  return {
    operator,
    logs: () => lines.join(''),
    stop: () => operator.stop(5_000),
  };
}
