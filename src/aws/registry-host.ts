/** What an ECR private registry host says about itself. */
export interface RegistryHost {
  host: string;
  accountId: string;
  region: string;
  fips: boolean;
  dualStack: boolean;
  /** DNS suffix of the partition: amazonaws.com, amazonaws.com.cn, or on.aws for dual-stack. */
  dnsSuffix: string;
}

const REGION = '[a-z]{2}(?:-[a-z]+)+-[0-9]';
// Anchored at both ends: a loose pattern would let a resource send a token to a host its author controls.
const IPV4_HOST = new RegExp(`^([0-9]{12})\\.dkr\\.ecr(-fips)?\\.(${REGION})\\.(amazonaws\\.com(?:\\.cn)?)$`);
const DUAL_STACK_HOST = new RegExp(`^([0-9]{12})\\.dkr-ecr(-fips)?\\.(${REGION})\\.(on\\.aws)$`);

/** Parses a private ECR registry host; returns undefined for anything else. */
export function parseRegistryHost(input: string): RegistryHost | undefined {
  const host = input.trim().toLowerCase().replace(/^https:\/\//, '').replace(/\/$/, '');
  const match = IPV4_HOST.exec(host) ?? DUAL_STACK_HOST.exec(host);
  if (!match) return undefined;
  const [, accountId, fips, region, dnsSuffix] = match;
  return {
    host,
    accountId: accountId!,
    region: region!,
    fips: fips !== undefined,
    dualStack: host.includes('.dkr-ecr'),
    dnsSuffix: dnsSuffix!,
  };
}

/** The ECR API endpoint that serves a registry host, as the SDK itself would pick it. */
export function defaultApiEndpoint(registry: RegistryHost): string {
  if (registry.dualStack) return `https://ecr${registry.fips ? '-fips' : ''}.${registry.region}.api.aws`;
  return `https://api.ecr${registry.fips ? '-fips' : ''}.${registry.region}.${registry.dnsSuffix}`;
}

/**
 * The region and partition of an AWS endpoint origin (api.ecr.<region>.amazonaws.com[.cn],
 * ecr.<region>.api.aws, an interface VPC endpoint), or undefined for any other origin.
 */
export function awsEndpointRegion(endpoint: string): { region: string; china: boolean } | undefined {
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  if (!/\.(?:amazonaws\.com(?:\.cn)?|api\.aws)$/.test(host)) return undefined;
  const region = new RegExp(REGION).exec(host)?.[0];
  return region ? { region, china: host.endsWith('.amazonaws.com.cn') } : undefined;
}
