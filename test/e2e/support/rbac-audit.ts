import type { KubernetesObject, V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding } from '@kubernetes/client-node';

/**
 * Permissions no request can show, each with the reason it is still needed. Everything else the
 * operator's roles grant must be used by a request of a run that exercises every API call.
 */
export const NEEDED_WITHOUT_A_REQUEST: Record<string, string> = {
  'update ecr.pullsecrets.io/ecrregistries/finalizers':
    'checked by the OwnerReferencesPermissionEnforcement admission plugin when the pull secret names its EcrRegistry with blockOwnerDeletion',
  'update ecr.pullsecrets.io/clusterecrregistries/finalizers':
    'checked by the OwnerReferencesPermissionEnforcement admission plugin when a pull secret names its ClusterEcrRegistry with blockOwnerDeletion',
  'create serviceaccounts/token': 'used by registries with credentials.serviceAccountRef; exercised by test/integration/web-identity tests',
};

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

/** One recorded request: what it asked, and the status the API server answered. */
export interface AuditedRequest {
  method: string;
  url: string;
  status: number;
}

export interface Audit {
  /** Requests the API server answered 401 or 403. */
  refused: string[];
  /** Requests no permission grants. */
  uncovered: string[];
  /** Requests outside the resource API (/version, /openapi...). */
  nonResource: string[];
  /** How many requests each permission granted. */
  uses: Map<Permission, number>;
}

/** Accounts every request to the permissions that grant it. */
export function auditRequests(permissions: readonly Permission[], requests: readonly AuditedRequest[]): Audit {
  const audit: Audit = { refused: [], uncovered: [], nonResource: [], uses: new Map(permissions.map((p) => [p, 0])) };
  for (const request of requests) {
    if (request.status === 401 || request.status === 403) audit.refused.push(`${request.method} ${request.url} → ${request.status}`);
    const attributes = requestAttributes(request.method, request.url);
    if (!attributes) {
      audit.nonResource.push(`${request.method} ${request.url}`);
      continue;
    }
    const granting = permissions.filter((p) => allows(p, attributes));
    if (granting.length === 0) audit.uncovered.push(describeRequest(attributes));
    for (const p of granting) audit.uses.set(p, audit.uses.get(p)! + 1);
  }
  return audit;
}

/**
 * Permissions no request used. The same permission of a role granted in several namespaces (one Role
 * per watched namespace) counts as used when it was used in any of them, and is named once, without
 * a namespace.
 */
export function unusedPermissions(uses: ReadonlyMap<Permission, number>): string[] {
  const key = (p: Permission) => describePermission({ ...p, namespace: undefined });
  const used = new Set([...uses].filter(([, n]) => n > 0).map(([p]) => key(p)));
  return [...new Set([...uses].filter(([p, n]) => n === 0 && !used.has(key(p))).map(([p]) => key(p)))];
}

/** One line per permission, for the figures printed after a run. */
export function usageLines(uses: ReadonlyMap<Permission, number>): string[] {
  return [...uses].map(([p, n]) => `${describePermission(p).padEnd(62)} ${String(n).padStart(5)} requests`);
}

/**
 * What a set of manifests (an install's objects) grants ServiceAccount `namespace/name`: the rules of
 * every ClusterRole bound to it by a ClusterRoleBinding (everywhere), and of every Role or ClusterRole
 * bound to it by a RoleBinding (in that binding's namespace). Fails on a binding to a role the
 * manifests do not hold, since its rules could not be accounted for.
 */
export function permissionsGrantedTo(objects: readonly KubernetesObject[], serviceAccount: { namespace: string; name: string }): Permission[] {
  const named = (kind: string, name: string, namespace?: string) =>
    objects.find((o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace)) as
      | V1Role
      | V1ClusterRole
      | undefined;
  const boundToIt = (binding: V1RoleBinding | V1ClusterRoleBinding) =>
    (binding.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount.name && s.namespace === serviceAccount.namespace);
  const permissions: Permission[] = [];
  for (const object of objects) {
    if (object.kind !== 'ClusterRoleBinding' && object.kind !== 'RoleBinding') continue;
    const binding = object as V1RoleBinding;
    if (!boundToIt(binding)) continue;
    const namespace = object.kind === 'RoleBinding' ? binding.metadata?.namespace : undefined;
    const { kind, name } = binding.roleRef;
    const role = named(kind, name, kind === 'Role' ? namespace : undefined);
    if (!role) throw new Error(`${object.kind} ${binding.metadata?.name} binds ${kind} ${name}, which the manifests do not hold`);
    permissions.push(...permissionsOf(`${kind} ${namespace ? `${namespace}/` : ''}${name}`, role.rules ?? [], namespace));
  }
  return permissions;
}
