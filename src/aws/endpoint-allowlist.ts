/**
 * Which ECR API endpoint overrides the operator will send signed requests to.
 *
 * A request signed with a user's keys can be replayed against AWS for minutes, so an override
 * taken from a resource must match a list the operator's administrator controls. The default
 * list is AWS's own ECR API endpoints, VPC endpoint names included.
 */
export interface EndpointAllowlist {
  allows(endpoint: string): boolean;
  /**
   * True when an administrator entry allows the endpoint and none of AWS's own ECR API patterns
   * does: a stand-in for ECR (an emulator, a mirror) that serves the registry v2 API as well.
   */
  isAdministratorEndpoint(endpoint: string): boolean;
  describe(): string;
}

const REGION = '[a-z]{2}(?:-[a-z]+)+-[0-9]';
export const DEFAULT_ENDPOINT_PATTERNS: readonly string[] = [
  // api.ecr.us-east-1.amazonaws.com, ecr.us-east-1.amazonaws.com, api.ecr-fips…, China partition
  `^https://(?:api\\.)?ecr(?:-fips)?\\.${REGION}\\.amazonaws\\.com(?:\\.cn)?$`,
  // dual-stack: ecr.us-east-1.api.aws, ecr-fips.us-east-1.api.aws
  `^https://ecr(?:-fips)?\\.${REGION}\\.api\\.aws$`,
  // interface VPC endpoints: vpce-0abc-123.api.ecr.us-east-1.vpce.amazonaws.com (optionally zonal)
  `^https://vpce-[a-z0-9-]+(?:\\.[a-z0-9-]+)?\\.api\\.ecr\\.${REGION}\\.vpce\\.amazonaws\\.com(?:\\.cn)?$`,
];

/**
 * Builds an allowlist from administrator entries. An entry is either an exact origin
 * (`http://127.0.0.1:4566`) or a regular expression written as `/…/` matched against the origin.
 */
export function createEndpointAllowlist(entries: readonly string[] = []): EndpointAllowlist {
  const awsPatterns = DEFAULT_ENDPOINT_PATTERNS.map((p) => new RegExp(p));
  const administratorPatterns: RegExp[] = [];
  const exact = new Set<string>();
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    if (entry.length > 2 && entry.startsWith('/') && entry.endsWith('/')) {
      administratorPatterns.push(new RegExp(`^(?:${entry.slice(1, -1)})$`));
    } else {
      const origin = originOf(entry);
      if (!origin) throw new Error(`endpoint allowlist entry ${JSON.stringify(entry)} is not a URL origin or a /regex/`);
      exact.add(origin);
    }
  }
  const byAdministrator = (origin: string) => exact.has(origin) || administratorPatterns.some((p) => p.test(origin));
  const byAws = (origin: string) => awsPatterns.some((p) => p.test(origin));
  return {
    allows(endpoint: string): boolean {
      const origin = plainOrigin(endpoint);
      return origin !== undefined && (byAdministrator(origin) || byAws(origin));
    },
    isAdministratorEndpoint(endpoint: string): boolean {
      const origin = plainOrigin(endpoint);
      return origin !== undefined && byAdministrator(origin) && !byAws(origin);
    },
    describe(): string {
      return [...exact, ...entries.filter((e) => e.startsWith('/')), 'AWS ECR API endpoints'].join(', ');
    },
  };
}

/** The endpoint's origin, or undefined when it carries a path, query or credentials that could smuggle meaning past the match. */
function plainOrigin(endpoint: string): string | undefined {
  const origin = originOf(endpoint);
  if (!origin) return undefined;
  const url = new URL(endpoint);
  if (url.username || url.password || url.search || (url.pathname !== '/' && url.pathname !== '')) return undefined;
  return origin;
}

function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}
