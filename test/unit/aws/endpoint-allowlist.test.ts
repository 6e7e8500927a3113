import { expect } from 'chai';
import { createEndpointAllowlist } from '../../../src/aws/endpoint-allowlist.ts';
import { defaultApiEndpoint, parseRegistryHost } from '../../../src/aws/registry-host.ts';

describe('createEndpointAllowlist', () => {
  describe('by default', () => {
    const allowlist = createEndpointAllowlist();

    const awsEndpoints = [
      'https://api.ecr.us-east-1.amazonaws.com',
      'https://api.ecr.us-east-1.amazonaws.com/',
      'https://ecr.eu-west-1.amazonaws.com',
      'https://api.ecr-fips.us-east-1.amazonaws.com',
      'https://ecr-fips.us-gov-west-1.amazonaws.com',
      'https://api.ecr.cn-north-1.amazonaws.com.cn',
      'https://ecr.us-east-1.api.aws',
      'https://ecr-fips.us-west-2.api.aws',
      'https://vpce-0a1b2c3d4e5f67890-abcdefgh.api.ecr.us-east-1.vpce.amazonaws.com',
      'https://vpce-0a1b2c3d4e5f67890-abcdefgh-us-east-1a.api.ecr.us-east-1.vpce.amazonaws.com',
      'https://vpce-0a1b2c3d4e5f67890-abcdefgh.api.ecr.cn-north-1.vpce.amazonaws.com.cn',
      'https://API.ECR.US-EAST-1.AMAZONAWS.COM',
    ];
    for (const endpoint of awsEndpoints) {
      it(`allows the AWS endpoint ${endpoint}`, () => {
        expect(allowlist.allows(endpoint)).to.equal(true);
      });
    }

    it('allows the default API endpoint of every registry host form', () => {
      for (const host of [
        '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        '123456789012.dkr.ecr-fips.us-east-1.amazonaws.com',
        '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
        '123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com',
        '123456789012.dkr-ecr.us-east-1.on.aws',
        '123456789012.dkr-ecr-fips.us-east-1.on.aws',
      ]) {
        const endpoint = defaultApiEndpoint(parseRegistryHost(host)!);
        expect(allowlist.allows(endpoint), endpoint).to.equal(true);
      }
    });

    const refused: Array<[string, string]> = [
      ['an arbitrary host', 'https://evil.com'],
      ['loopback', 'http://127.0.0.1:4566'],
      ['a look-alike suffix after the AWS domain', 'https://api.ecr.us-east-1.amazonaws.com.evil.com'],
      ['a look-alike suffix after the China domain', 'https://api.ecr.cn-north-1.amazonaws.com.cn.evil.com'],
      ['a look-alike prefix', 'https://evilapi.ecr.us-east-1.amazonaws.com'],
      ['a look-alike label', 'https://api-ecr.us-east-1.amazonaws.com'],
      ['a look-alike VPC endpoint suffix', 'https://vpce-0abc.api.ecr.us-east-1.vpce.amazonaws.com.evil.com'],
      ['a look-alike dual-stack suffix', 'https://ecr.us-east-1.api.aws.evil.com'],
      ['another AWS service', 'https://sts.us-east-1.amazonaws.com'],
      ['the registry host instead of the API', 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com'],
      ['plain http to an AWS host', 'http://api.ecr.us-east-1.amazonaws.com'],
      ['an AWS host on a non-default port', 'https://api.ecr.us-east-1.amazonaws.com:8443'],
      ['a path', 'https://api.ecr.us-east-1.amazonaws.com/v1'],
      ['an attacker host with the AWS host as its path', 'https://evil.com/api.ecr.us-east-1.amazonaws.com'],
      ['a query', 'https://api.ecr.us-east-1.amazonaws.com/?redirect=evil.com'],
      ['userinfo', 'https://user:pw@api.ecr.us-east-1.amazonaws.com'],
      ['an AWS host used as userinfo for an attacker host', 'https://api.ecr.us-east-1.amazonaws.com@evil.com'],
      ['a non-http scheme', 'ftp://api.ecr.us-east-1.amazonaws.com'],
      ['a bare host without scheme', 'api.ecr.us-east-1.amazonaws.com'],
      ['something that is not a URL', 'not a url'],
      ['an empty string', ''],
    ];
    for (const [what, endpoint] of refused) {
      it(`refuses ${what}`, () => {
        expect(allowlist.allows(endpoint)).to.equal(false);
      });
    }
  });

  describe('with administrator entries', () => {
    it('allows an exact origin, with or without a trailing slash, and nothing near it', () => {
      const allowlist = createEndpointAllowlist(['http://127.0.0.1:4566']);
      expect(allowlist.allows('http://127.0.0.1:4566')).to.equal(true);
      expect(allowlist.allows('http://127.0.0.1:4566/')).to.equal(true);
      expect(allowlist.allows('http://127.0.0.1:4567')).to.equal(false);
      expect(allowlist.allows('https://127.0.0.1:4566')).to.equal(false);
      expect(allowlist.allows('http://127.0.0.1:4566/path')).to.equal(false);
      expect(allowlist.allows('https://api.ecr.us-east-1.amazonaws.com')).to.equal(true);
    });

    it('normalises an exact entry to its origin', () => {
      const allowlist = createEndpointAllowlist(['  http://LOCALHOST:4566/  ']);
      expect(allowlist.allows('http://localhost:4566')).to.equal(true);
    });

    it('matches a /regex/ entry against the whole origin', () => {
      const allowlist = createEndpointAllowlist(['/http://127\\.0\\.0\\.1:[0-9]+/']);
      expect(allowlist.allows('http://127.0.0.1:4566')).to.equal(true);
      expect(allowlist.allows('http://127.0.0.1:31000/')).to.equal(true);
      expect(allowlist.allows('http://127.0.0.1.evil.com:4566')).to.equal(false);
      expect(allowlist.allows('http://10.127.0.0.1:4566')).to.equal(false);
    });

    it('still refuses paths, queries and userinfo on a host a regex entry allows', () => {
      const allowlist = createEndpointAllowlist(['/http://127\\.0\\.0\\.1:[0-9]+/']);
      expect(allowlist.allows('http://127.0.0.1:4566/x')).to.equal(false);
      expect(allowlist.allows('http://127.0.0.1:4566/?a=b')).to.equal(false);
      expect(allowlist.allows('http://u:p@127.0.0.1:4566')).to.equal(false);
    });

    it('ignores blank entries', () => {
      const allowlist = createEndpointAllowlist(['', '   ']);
      expect(allowlist.allows('https://api.ecr.us-east-1.amazonaws.com')).to.equal(true);
      expect(allowlist.allows('https://evil.com')).to.equal(false);
    });

    it('throws on an entry that is neither an origin nor a /regex/', () => {
      expect(() => createEndpointAllowlist(['127.0.0.1:4566 please'])).to.throw(/not a URL origin or a \/regex\//);
      expect(() => createEndpointAllowlist(['ftp://127.0.0.1'])).to.throw(/not a URL origin/);
      expect(() => createEndpointAllowlist(['//'])).to.throw(/not a URL origin/);
    });

    it('throws on a /regex/ entry that does not compile', () => {
      expect(() => createEndpointAllowlist(['/http://(unclosed/'])).to.throw(SyntaxError);
    });

    it('describes the administrator entries and the AWS defaults', () => {
      const described = createEndpointAllowlist(['http://127.0.0.1:4566', '/https://.*\\.example\\.com/']).describe();
      expect(described).to.equal('http://127.0.0.1:4566, /https://.*\\.example\\.com/, AWS ECR API endpoints');
    });
  });
});
