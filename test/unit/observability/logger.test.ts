import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../../src/observability/logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, stream };
}

/** Metadata that counts how often winston reads it: a line that is formatted reads every field. */
function probe() {
  const meta = { reads: 0 };
  Object.defineProperty(meta, 'field', { enumerable: true, get: () => ++meta.reads });
  return meta;
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe('createLogger', () => {
  it('writes the lines at or above its level, as JSON with a timestamp', async () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', stream });
    log.child({ kind: 'EcrRegistry', name: 'a' }).info('wrote pull secret', { secret: 'a' });
    log.warn('slow');
    await flushed();
    expect(lines).to.have.length(2);
    expect(lines[0]).to.include({ level: 'info', message: 'wrote pull secret', kind: 'EcrRegistry', name: 'a', secret: 'a' });
    expect(lines[0]).to.have.property('timestamp');
    expect(lines[1]).to.include({ level: 'warn', message: 'slow' });
  });

  it('does not even read a line below its level, from the logger or from a child', async () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'warn', stream });
    const meta = probe();
    log.debug('reconciling', meta);
    log.child({ name: 'a' }).info('wrote pull secret', meta);
    log.child({ name: 'a' }).child({ attempt: 1 }).debug('retry', meta);
    await flushed();
    expect(lines).to.deep.equal([]);
    expect(meta.reads).to.equal(0);
  });

  it('follows a level changed after it was made', async () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'warn', stream });
    const child = log.child({ name: 'a' });
    log.level = 'debug';
    child.debug('now visible');
    await flushed();
    expect(lines.map((l) => l.message)).to.deep.equal(['now visible']);
  });
});
