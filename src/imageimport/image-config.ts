import type { ImageConfig } from '../api/image-import.ts';

// The status holds this for every tag and etcd caps an object at about 1.5 MiB, so a config with
// thousands of labels or a huge CMD is cut down rather than allowed to break the status write.
const MAX_ARGUMENTS = 64;
const MAX_LABELS = 64;
const MAX_STRING = 1024;

/** The runtime fields of an image config blob (`config.Entrypoint`, `Cmd`, `WorkingDir`, `User`, `Labels`). */
export function parseImageConfig(text: string): ImageConfig {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error('the image config blob is not JSON');
  }
  if (!isRecord(document)) throw new Error('the image config blob is not a JSON object');
  // Docker and OCI both keep these under `config`; it is null for an image built FROM scratch with no settings.
  const config = isRecord(document.config) ? document.config : {};
  const entrypoint = stringList(config.Entrypoint);
  const cmd = stringList(config.Cmd);
  const workingDir = nonEmptyString(config.WorkingDir);
  const user = nonEmptyString(config.User);
  const labels = stringMap(config.Labels);
  return {
    ...(entrypoint ? { entrypoint } : {}),
    ...(cmd ? { cmd } : {}),
    ...(workingDir ? { workingDir } : {}),
    ...(user ? { user } : {}),
    ...(labels ? { labels } : {}),
  };
}

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const items = value.filter((v): v is string => typeof v === 'string').slice(0, MAX_ARGUMENTS).map(cut);
  return items.length > 0 ? items : undefined;
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const entries = Object.entries(value)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_LABELS)
    .map(([k, v]) => [cut(k), cut(v)]);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? cut(value) : undefined;
}

function cut(text: string): string {
  return text.length > MAX_STRING ? text.slice(0, MAX_STRING) : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
