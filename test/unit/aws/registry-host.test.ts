import { expect } from 'chai';
import { awsEndpointRegion, defaultApiEndpoint, parseRegistryHost, type RegistryHost } from '../../../src/aws/registry-host.ts';

const COMMERCIAL = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

function parsed(input: string): RegistryHost {
  const host = parseRegistryHost(input);
  expect(host, `${input} should parse`).to.not.equal(undefined);
  return host!;
}

describe('parseRegistryHost', () => {
  it('reads the account and region of a commercial registry host', () => {
    expect(parseRegistryHost(COMMERCIAL)).to.deep.equal({
      host: COMMERCIAL,
      accountId: '123456789012',
      region: 'us-east-1',
      fips: false,
      dualStack: false,
      dnsSuffix: 'amazonaws.com',
    });
  });

  it('recognises a FIPS registry host', () => {
    expect(parseRegistryHost('123456789012.dkr.ecr-fips.us-east-2.amazonaws.com')).to.deep.equal({
      host: '123456789012.dkr.ecr-fips.us-east-2.amazonaws.com',
      accountId: '123456789012',
      region: 'us-east-2',
      fips: true,
      dualStack: false,
      dnsSuffix: 'amazonaws.com',
    });
  });

  it('recognises a China partition host under amazonaws.com.cn', () => {
    expect(parseRegistryHost('210987654321.dkr.ecr.cn-northwest-1.amazonaws.com.cn')).to.deep.equal({
      host: '210987654321.dkr.ecr.cn-northwest-1.amazonaws.com.cn',
      accountId: '210987654321',
      region: 'cn-northwest-1',
      fips: false,
      dualStack: false,
      dnsSuffix: 'amazonaws.com.cn',
    });
  });

  it('recognises GovCloud regions, plain and FIPS', () => {
    const plain = parsed('123456789012.dkr.ecr.us-gov-west-1.amazonaws.com');
    expect(plain.region).to.equal('us-gov-west-1');
    expect(plain.fips).to.equal(false);
    const fips = parsed('123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com');
    expect(fips.region).to.equal('us-gov-east-1');
    expect(fips.fips).to.equal(true);
  });

  it('recognises dual-stack hosts under on.aws, plain and FIPS', () => {
    expect(parseRegistryHost('123456789012.dkr-ecr.eu-west-1.on.aws')).to.deep.equal({
      host: '123456789012.dkr-ecr.eu-west-1.on.aws',
      accountId: '123456789012',
      region: 'eu-west-1',
      fips: false,
      dualStack: true,
      dnsSuffix: 'on.aws',
    });
    const fips = parsed('123456789012.dkr-ecr-fips.us-west-2.on.aws');
    expect(fips.fips).to.equal(true);
    expect(fips.dualStack).to.equal(true);
    expect(fips.region).to.equal('us-west-2');
  });

  it('reads multi-part region names', () => {
    expect(parsed('123456789012.dkr.ecr.ap-southeast-2.amazonaws.com').region).to.equal('ap-southeast-2');
    expect(parsed('123456789012.dkr.ecr.us-isob-east-1.amazonaws.com').region).to.equal('us-isob-east-1');
  });

  it('tolerates an https:// prefix and a trailing slash, and reports the bare host', () => {
    expect(parsed(`https://${COMMERCIAL}`).host).to.equal(COMMERCIAL);
    expect(parsed(`https://${COMMERCIAL}/`).host).to.equal(COMMERCIAL);
    expect(parsed(`${COMMERCIAL}/`).host).to.equal(COMMERCIAL);
  });

  it('tolerates surrounding whitespace', () => {
    expect(parsed(`  ${COMMERCIAL}\n`).host).to.equal(COMMERCIAL);
  });

  it('normalises uppercase to the same lowercase host, prefix included', () => {
    const lower = parsed(COMMERCIAL);
    expect(parseRegistryHost(COMMERCIAL.toUpperCase())).to.deep.equal(lower);
    expect(parseRegistryHost(`HTTPS://123456789012.DKR.ECR.US-EAST-1.AmazonAWS.com`)).to.deep.equal(lower);
  });

  const lookAlikes: Array<[string, string]> = [
    ['an attacker suffix after the AWS domain', `${COMMERCIAL}.evil.com`],
    ['an attacker host with the ECR host as a path', `evil.com/${COMMERCIAL}`],
    ['an attacker host with the ECR host as a subdomain prefix', `${COMMERCIAL.replace('.amazonaws.com', '')}.evil.com`],
    ['an 11-digit account', '12345678901.dkr.ecr.us-east-1.amazonaws.com'],
    ['a 13-digit account', '1234567890123.dkr.ecr.us-east-1.amazonaws.com'],
    ['a non-numeric account', '12345678901a.dkr.ecr.us-east-1.amazonaws.com'],
    ['a leading label before the account', `x.${COMMERCIAL}`],
    ['userinfo', `user@${COMMERCIAL}`],
    ['a port', `${COMMERCIAL}:443`],
    ['a path after the host', `${COMMERCIAL}/v2/`],
    ['an http:// prefix', `http://${COMMERCIAL}`],
    ['an embedded newline', `${COMMERCIAL}\nevil.com`],
    ['a missing region', '123456789012.dkr.ecr.amazonaws.com'],
    ['a malformed region', '123456789012.dkr.ecr.useast1.amazonaws.com'],
    ['dkr-ecr under amazonaws.com', '123456789012.dkr-ecr.us-east-1.amazonaws.com'],
    ['dkr.ecr under on.aws', '123456789012.dkr.ecr.us-east-1.on.aws'],
    ['a public ECR host', 'public.ecr.aws'],
    ['an ECR API endpoint', 'api.ecr.us-east-1.amazonaws.com'],
    ['an empty string', ''],
  ];
  for (const [what, input] of lookAlikes) {
    it(`rejects ${what}`, () => {
      expect(parseRegistryHost(input)).to.equal(undefined);
    });
  }
});

describe('defaultApiEndpoint', () => {
  // The same URLs the AWS SDK's endpoint rules pick for each region/FIPS/dual-stack combination.
  const cases: Array<[string, string]> = [
    [COMMERCIAL, 'https://api.ecr.us-east-1.amazonaws.com'],
    ['123456789012.dkr.ecr-fips.us-east-1.amazonaws.com', 'https://api.ecr-fips.us-east-1.amazonaws.com'],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', 'https://api.ecr.cn-north-1.amazonaws.com.cn'],
    ['123456789012.dkr.ecr.us-gov-west-1.amazonaws.com', 'https://api.ecr.us-gov-west-1.amazonaws.com'],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', 'https://api.ecr-fips.us-gov-west-1.amazonaws.com'],
    ['123456789012.dkr-ecr.us-east-1.on.aws', 'https://ecr.us-east-1.api.aws'],
    ['123456789012.dkr-ecr-fips.us-east-1.on.aws', 'https://ecr-fips.us-east-1.api.aws'],
  ];
  for (const [host, endpoint] of cases) {
    it(`serves ${host} from ${endpoint}`, () => {
      expect(defaultApiEndpoint(parsed(host))).to.equal(endpoint);
    });
  }
});

describe('awsEndpointRegion', () => {
  const cases: Array<[string, { region: string; china: boolean } | undefined]> = [
    ['https://api.ecr.eu-west-1.amazonaws.com', { region: 'eu-west-1', china: false }],
    ['https://api.ecr-fips.us-gov-west-1.amazonaws.com', { region: 'us-gov-west-1', china: false }],
    ['https://api.ecr.cn-north-1.amazonaws.com.cn', { region: 'cn-north-1', china: true }],
    ['https://ecr.us-west-2.api.aws', { region: 'us-west-2', china: false }],
    ['https://vpce-0a1b2c3d4e5f6a7b8-ab12cd34.api.ecr.us-east-1.vpce.amazonaws.com', { region: 'us-east-1', china: false }],
    ['http://127.0.0.1:4566', undefined],
    ['https://ecr.example.com', undefined],
  ];
  for (const [endpoint, expected] of cases) {
    it(`reads ${endpoint}`, () => expect(awsEndpointRegion(endpoint)).to.deep.equal(expected));
  }
});
