import { expect } from 'chai';
import { parseDockerConfigJson, renderDockerConfigJson } from '../../../src/registry/docker-config.ts';

const HOST_A = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
const HOST_B = '222222222222.dkr.ecr.us-east-1.amazonaws.com';
const CREDENTIALS = { username: 'AWS', password: 'eyJwYXlsb2FkIjoiZXhhbXBsZSJ9' };
const AUTH = Buffer.from('AWS:eyJwYXlsb2FkIjoiZXhhbXBsZSJ9').toString('base64');

describe('renderDockerConfigJson', () => {
  it('renders auths[host] with username, password and auth = base64(user:password)', () => {
    expect(JSON.parse(renderDockerConfigJson([HOST_A], CREDENTIALS))).to.deep.equal({
      auths: { [HOST_A]: { username: 'AWS', password: CREDENTIALS.password, auth: AUTH } },
    });
  });

  it('puts the same credentials under every host, sorted and deduplicated', () => {
    const text = renderDockerConfigJson([HOST_B, HOST_A, HOST_B], CREDENTIALS);
    const entry = { username: 'AWS', password: CREDENTIALS.password, auth: AUTH };
    expect(text).to.equal(JSON.stringify({ auths: { [HOST_A]: entry, [HOST_B]: entry } }));
  });

  it('renders byte-identical output whatever the host order, so unchanged secrets cause no writes', () => {
    expect(renderDockerConfigJson([HOST_B, HOST_A], CREDENTIALS)).to.equal(renderDockerConfigJson([HOST_A, HOST_B], CREDENTIALS));
  });

  it('keeps colons in the password inside auth', () => {
    const auths = JSON.parse(renderDockerConfigJson([HOST_A], { username: 'AWS', password: 'a:b' })).auths;
    expect(Buffer.from(auths[HOST_A].auth, 'base64').toString('utf8')).to.equal('AWS:a:b');
  });

  it('refuses an empty password', () => {
    expect(() => renderDockerConfigJson([HOST_A], { username: 'AWS', password: '' })).to.throw(/without a username and password/);
  });

  it('refuses an empty username', () => {
    expect(() => renderDockerConfigJson([HOST_A], { username: '', password: 'pw' })).to.throw(/without a username and password/);
  });

  it('refuses a list with no hosts', () => {
    expect(() => renderDockerConfigJson([], CREDENTIALS)).to.throw(/no registry hosts/);
  });
});

describe('parseDockerConfigJson', () => {
  it('reads back what renderDockerConfigJson wrote', () => {
    const entry = { username: 'AWS', password: CREDENTIALS.password, auth: AUTH };
    expect(parseDockerConfigJson(renderDockerConfigJson([HOST_B, HOST_A], CREDENTIALS))).to.deep.equal({ [HOST_A]: entry, [HOST_B]: entry });
  });

  it('accepts an entry without auth, reading auth as empty', () => {
    expect(parseDockerConfigJson(JSON.stringify({ auths: { [HOST_A]: { username: 'AWS', password: 'pw' } } }))).to.deep.equal({
      [HOST_A]: { username: 'AWS', password: 'pw', auth: '' },
    });
  });

  const notConfigs: Array<[string, string]> = [
    ['text that is not JSON', 'not json'],
    ['JSON null', 'null'],
    ['a JSON string', '"auths"'],
    ['a JSON number', '42'],
    ['a JSON array', '[]'],
    ['an object without auths', '{"credsStore":"ecr-login"}'],
    ['auths that is a string', '{"auths":"x"}'],
    ['auths that is an array of entries', '{"auths":[{"username":"AWS","password":"pw"}]}'],
    ['an entry that is null', `{"auths":{"${HOST_A}":null}}`],
    ['an entry without a password', `{"auths":{"${HOST_A}":{"username":"AWS"}}}`],
    ['an entry with a numeric password', `{"auths":{"${HOST_A}":{"username":"AWS","password":42}}}`],
  ];
  for (const [what, text] of notConfigs) {
    it(`rejects ${what}`, () => {
      expect(parseDockerConfigJson(text)).to.equal(undefined);
    });
  }
});
