import { expect } from 'chai';
import { parseImageConfig } from '../../../src/imageimport/image-config.ts';
import { configBlob } from './images.ts';

describe('parseImageConfig', () => {
  it('reads entrypoint, cmd, working directory, user and labels', () => {
    const blob = configBlob({
      Entrypoint: ['/usr/bin/tini', '--'],
      Cmd: ['app', '--port=8080'],
      WorkingDir: '/srv',
      User: '1000:1000',
      Labels: { 'org.opencontainers.image.source': 'https://github.com/example/app' },
      Env: ['SECRET_LOOKING=not copied'],
    });
    expect(parseImageConfig(blob.text)).to.deep.equal({
      entrypoint: ['/usr/bin/tini', '--'],
      cmd: ['app', '--port=8080'],
      workingDir: '/srv',
      user: '1000:1000',
      labels: { 'org.opencontainers.image.source': 'https://github.com/example/app' },
    });
  });

  it('gives an empty config for an image without settings (config null, as FROM scratch)', () => {
    expect(parseImageConfig(JSON.stringify({ architecture: 'amd64', os: 'linux', config: null }))).to.deep.equal({});
    expect(parseImageConfig(configBlob({ Cmd: null, Entrypoint: [], WorkingDir: '', Labels: null }).text)).to.deep.equal({});
  });

  it('ignores values of the wrong type instead of failing', () => {
    const blob = configBlob({ Cmd: 'sh -c app', Entrypoint: ['ok', 7], User: 0, Labels: { a: 'b', n: 1 } });
    expect(parseImageConfig(blob.text)).to.deep.equal({ entrypoint: ['ok'], labels: { a: 'b' } });
  });

  it('bounds what it copies, so a huge config cannot overflow the status', () => {
    const labels = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`label-${String(i).padStart(3, '0')}`, 'x'.repeat(5000)]));
    const config = parseImageConfig(configBlob({ Labels: labels, Cmd: Array.from({ length: 500 }, () => 'arg') }).text);
    expect(Object.keys(config.labels!)).to.have.length(64);
    expect(config.labels!['label-000']).to.have.length(1024);
    expect(config.cmd).to.have.length(64);
  });

  it('refuses a blob that is not a JSON object', () => {
    expect(() => parseImageConfig('<html>')).to.throw(/not JSON/);
    expect(() => parseImageConfig('[]')).to.throw(/not a JSON object/);
  });
});
