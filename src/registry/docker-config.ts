/** One registry's entry in a docker config, as the kubelet reads it. */
export interface DockerAuthEntry {
  username: string;
  password: string;
  auth: string;
}

/** The `.dockerconfigjson` of a pull secret: the same credentials under every host, in a stable order. */
export function renderDockerConfigJson(hosts: readonly string[], credentials: { username: string; password: string }): string {
  if (!credentials.username || !credentials.password) throw new Error('refusing to render a docker config without a username and password');
  if (hosts.length === 0) throw new Error('refusing to render a docker config with no registry hosts');
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
  const auths: Record<string, DockerAuthEntry> = {};
  for (const host of [...new Set(hosts)].sort()) {
    auths[host] = { username: credentials.username, password: credentials.password, auth };
  }
  return JSON.stringify({ auths });
}

/** Reads back a docker config; undefined when it isn't one. */
export function parseDockerConfigJson(text: string): Record<string, DockerAuthEntry> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const auths = (parsed as { auths?: unknown }).auths;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) return undefined;
  const out: Record<string, DockerAuthEntry> = {};
  for (const [host, value] of Object.entries(auths)) {
    const v = value as Partial<DockerAuthEntry>;
    if (typeof v?.username !== 'string' || typeof v.password !== 'string') return undefined;
    out[host] = { username: v.username, password: v.password, auth: typeof v.auth === 'string' ? v.auth : '' };
  }
  return out;
}
