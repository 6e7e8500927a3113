import type { Blob } from './images.ts';

/** A manifest (image manifest or index) as stored, with what DescribeImages reports about it. */
export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  pushedAtMs: number;
  sizeInBytes: number;
  /** The config blob's media type for an image manifest; absent for an index. */
  artifactMediaType?: string;
}

const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,299}$/;
const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function isDigest(reference: string): boolean {
  return DIGEST_PATTERN.test(reference);
}

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

/** ECR's repository name rule: lower-case path components separated by `/`. */
export function isValidRepositoryName(name: string): boolean {
  return name.length >= 2 && name.length <= 256 && /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(name);
}

/** One ECR repository: blobs and manifests by digest, and tags pointing at manifests. */
export class Repository {
  readonly accountId: string;
  readonly region: string;
  readonly name: string;
  readonly createdAtMs: number;
  private readonly blobs = new Map<string, Blob>();
  private readonly manifests = new Map<string, StoredManifest>();
  private readonly tags = new Map<string, string>();

  constructor(accountId: string, region: string, name: string, createdAtMs: number) {
    this.accountId = accountId;
    this.region = region;
    this.name = name;
    this.createdAtMs = createdAtMs;
  }

  get arn(): string {
    return `arn:aws:ecr:${this.region}:${this.accountId}:repository/${this.name}`;
  }

  get uri(): string {
    return `${this.accountId}.dkr.ecr.${this.region}.amazonaws.com/${this.name}`;
  }

  putBlob(blob: Blob): void {
    this.blobs.set(blob.digest, blob);
  }

  getBlob(digest: string): Blob | undefined {
    return this.blobs.get(digest);
  }

  putManifest(manifest: StoredManifest): void {
    // The same bytes pushed again keep their first push time, as a registry dedupes by digest.
    if (!this.manifests.has(manifest.digest)) this.manifests.set(manifest.digest, manifest);
  }

  /** Points `tag` at `digest`, moving it if it pointed elsewhere. */
  tag(tag: string, digest: string): void {
    if (!isValidTag(tag)) throw new Error(`invalid tag ${JSON.stringify(tag)}`);
    if (!this.manifests.has(digest)) throw new Error(`no manifest ${digest} in repository ${this.name}`);
    this.tags.set(tag, digest);
  }

  /** Removes a tag; returns whether it existed. The manifest stays, reachable by digest. */
  untag(tag: string): boolean {
    return this.tags.delete(tag);
  }

  digestOfTag(tag: string): string | undefined {
    return this.tags.get(tag);
  }

  manifestByDigest(digest: string): StoredManifest | undefined {
    return this.manifests.get(digest);
  }

  /** Resolves a tag or a digest to its manifest. */
  resolve(reference: string): StoredManifest | undefined {
    const digest = isDigest(reference) ? reference : this.tags.get(reference);
    return digest ? this.manifests.get(digest) : undefined;
  }

  tagsOf(digest: string): string[] {
    const result: string[] = [];
    for (const [tag, target] of this.tags) if (target === digest) result.push(tag);
    return result.sort();
  }

  allTags(): string[] {
    return [...this.tags.keys()].sort();
  }

  allManifests(): StoredManifest[] {
    return [...this.manifests.values()];
  }
}
