import type { EcrEmulator, Platform } from '../support/ecr-emulator/index.ts';

/** The demo's repository in the emulator, and how many builds it has pushed there. */
export interface EmulatorImage {
  emulator: EcrEmulator;
  accountId: string;
  region: string;
  repository: string;
  builds: number;
}

const PLATFORMS: readonly Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
];

/** Pushes a new build (an OCI index with two platforms, as a multi-arch `docker buildx` push makes) and points `tags` at it. */
export function pushDemoBuild(image: EmulatorImage, tags: readonly string[]): { digest: string; platforms: string[] } {
  image.builds += 1;
  const version = `1.0.${image.builds - 1}`;
  const pushed = image.emulator.pushIndex({
    accountId: image.accountId,
    region: image.region,
    repository: image.repository,
    tags: [...tags],
    manifests: PLATFORMS.map((platform) => ({
      platform,
      config: {
        Entrypoint: ['/usr/local/bin/app'],
        Cmd: ['serve'],
        WorkingDir: '/srv',
        User: '10001',
        Labels: { 'org.opencontainers.image.title': image.repository, 'org.opencontainers.image.version': version },
      },
    })),
  });
  return { digest: pushed.digest, platforms: PLATFORMS.map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/')) };
}
