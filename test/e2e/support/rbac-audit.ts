import type { V1PolicyRule } from '@kubernetes/client-node';

/** What RBAC authorizes a resource request by, as the API server derives it from the URL (its RequestInfo). */
export interface RequestAttributes {
  verb: string;
  apiGroup: string;
  /** `secrets`, or with the subresource: `ecrregistries/status`. */
  resource: string;
  namespace?: string;
  name?: string;
}

/** Derives the RBAC attributes of a request; undefined for non-resource URLs such as /version. */
export function requestAttributes(method: string, url: string): RequestAttributes | undefined {
  const parsed = new URL(url, 'http://apiserver');
  const parts = parsed.pathname.split('/').filter((p) => p !== '');
  let apiGroup: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    apiGroup = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    apiGroup = parts[1]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (!resource) return undefined;
  const watch = ['true', '1'].includes(parsed.searchParams.get('watch') ?? '');
  const verb =
    method === 'GET'
      ? watch
        ? 'watch'
        : name
          ? 'get'
          : 'list'
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name ? 'delete' : 'deletecollection' } as Record<string, string>)[method];
  if (!verb) return undefined;
  // Like the API server: a list or watch selecting one name by field is authorized for that name.
  const byName = /(?:^|,)metadata\.name==?([^,]+)/.exec(parsed.searchParams.get('fieldSelector') ?? '')?.[1];
  const effectiveName = name ?? ((verb === 'list' || verb === 'watch') && byName ? byName : undefined);
  return {
    verb,
    apiGroup,
    resource: subresource ? `${resource}/${subresource}` : resource,
    ...(namespace ? { namespace } : {}),
    ...(effectiveName ? { name: effectiveName } : {}),
  };
}

/** One permission: a single verb on a single resource, from a rule of a ClusterRole or (namespaced) Role. */
export interface Permission {
  role: string;
  apiGroup: string;
  resource: string;
  verb: string;
  resourceNames?: string[];
  /** Set for a Role: the permission holds only in this namespace. */
  namespace?: string;
}

/** Splits rules into single-verb, single-resource permissions, so each can be accounted for on its own. */
export function permissionsOf(role: string, rules: readonly V1PolicyRule[], namespace?: string): Permission[] {
  const permissions: Permission[] = [];
  for (const rule of rules) {
    if ((rule.nonResourceURLs ?? []).length > 0) throw new Error(`${role} grants non-resource URLs, which the operator never calls`);
    for (const apiGroup of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? [])
        for (const verb of rule.verbs) {
          permissions.push({
            role,
            apiGroup,
            resource,
            verb,
            ...(rule.resourceNames?.length ? { resourceNames: rule.resourceNames } : {}),
            ...(namespace ? { namespace } : {}),
          });
        }
  }
  return permissions;
}

/** Whether RBAC would allow `request` by this permission. */
export function allows(permission: Permission, request: RequestAttributes): boolean {
  const matches = (granted: string, asked: string) => granted === '*' || granted === asked;
  if (permission.namespace !== undefined && permission.namespace !== request.namespace) return false;
  if (!matches(permission.apiGroup, request.apiGroup) || !matches(permission.resource, request.resource) || !matches(permission.verb, request.verb)) return false;
  if (permission.resourceNames) return request.name !== undefined && permission.resourceNames.includes(request.name);
  return true;
}

export function describePermission(p: Permission): string {
  const names = p.resourceNames ? ` [${p.resourceNames.join(',')}]` : '';
  const where = p.namespace ? ` in ${p.namespace}` : '';
  return `${p.verb} ${p.apiGroup === '' ? '' : `${p.apiGroup}/`}${p.resource}${names}${where}`;
}

export function describeRequest(r: RequestAttributes): string {
  return `${r.verb} ${r.apiGroup === '' ? '' : `${r.apiGroup}/`}${r.resource}${r.name ? ` ${r.name}` : ''}${r.namespace ? ` in ${r.namespace}` : ''}`;
}
