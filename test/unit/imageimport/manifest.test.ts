import { expect } from 'chai';
import { ACCEPTED_MANIFEST_MEDIA_TYPES, defaultPlatformManifest, ManifestError, parseManifest, platformsOf } from '../../../src/imageimport/manifest.ts';
import { configBlob, DOCKER_LIST, DOCKER_MANIFEST, imageManifest, index, OCI_INDEX, OCI_MANIFEST } from './images.ts';

const amd64 = imageManifest(configBlob({ Cmd: ['amd64'] }));
const arm64 = imageManifest(configBlob({ Cmd: ['arm64'] }));
const attestation = imageManifest(configBlob());

describe('parseManifest', () => {
  it('reads an OCI image manifest and its config descriptor', () => {
    const manifest = parseManifest(amd64.text, OCI_MANIFEST);
    expect(manifest.kind).to.equal('image');
    expect(manifest.kind === 'image' && manifest.config.digest).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(manifest.mediaType).to.equal(OCI_MANIFEST);
  });

  it('reads a Docker schema 2 manifest', () => {
    const manifest = parseManifest(imageManifest(configBlob(), DOCKER_MANIFEST).text, DOCKER_MANIFEST);
    expect(manifest).to.include({ kind: 'image', mediaType: DOCKER_MANIFEST });
  });

  it('reads an OCI index with its platforms', () => {
    const doc = index([
      { manifest: amd64, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ]);
    const manifest = parseManifest(doc.text, OCI_INDEX);
    expect(manifest.kind).to.equal('index');
    if (manifest.kind !== 'index') return;
    expect(platformsOf(manifest.manifests)).to.deep.equal([
      { os: 'linux', architecture: 'amd64', digest: amd64.digest },
      { os: 'linux', architecture: 'arm64', variant: 'v8', digest: arm64.digest },
    ]);
  });

  it('reads a Docker manifest list', () => {
    const doc = index([{ manifest: amd64, platform: { os: 'linux', architecture: 'amd64' } }], DOCKER_LIST);
    expect(parseManifest(doc.text, DOCKER_LIST)).to.include({ kind: 'index', mediaType: DOCKER_LIST });
  });

  it('takes the kind from the document when the declared type is plain JSON or missing', () => {
    const doc = index([{ manifest: amd64, platform: { os: 'linux', architecture: 'amd64' } }]);
    expect(parseManifest(doc.text, 'application/json').kind).to.equal('index');
    expect(parseManifest(amd64.text).kind).to.equal('image');
    const bare = JSON.stringify({ schemaVersion: 2, config: { digest: amd64.digest } });
    expect(parseManifest(bare)).to.include({ kind: 'image', mediaType: OCI_MANIFEST });
  });

  it('refuses schema 1 manifests, bad JSON and descriptors without a valid digest', () => {
    const schema1 = JSON.stringify({ schemaVersion: 1, name: 'team/app', fsLayers: [] });
    expect(() => parseManifest(schema1, 'application/vnd.docker.distribution.manifest.v1+prettyjws')).to.throw(ManifestError, /unsupported manifest media type/);
    expect(() => parseManifest('{not json', OCI_MANIFEST)).to.throw(ManifestError, /not JSON/);
    const badDigest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: 'sha256:xyz' } });
    expect(() => parseManifest(badDigest, OCI_MANIFEST)).to.throw(ManifestError, /config has no valid digest/);
    expect(() => parseManifest(JSON.stringify({ mediaType: OCI_INDEX }), OCI_INDEX)).to.throw(ManifestError, /no manifests list/);
  });

  it('refuses an OCI artifact (a Helm chart) whose config is not an image config', () => {
    const chart = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: amd64.digest, size: 2 } });
    expect(() => parseManifest(chart, OCI_MANIFEST)).to.throw(ManifestError, /its config is application\/vnd\.cncf\.helm\.config\.v1\+json, not a container image config/);
  });

  it('asks ECR for image manifests, OCI indexes and Docker manifest lists', () => {
    expect(ACCEPTED_MANIFEST_MEDIA_TYPES).to.have.members([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]);
  });
});

describe('platforms of an index', () => {
  const buildxIndex = index([
    { manifest: arm64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { manifest: amd64, platform: { os: 'linux', architecture: 'amd64' } },
    {
      manifest: attestation,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd64.digest },
    },
  ]);
  const parsed = parseManifest(buildxIndex.text, OCI_INDEX);
  const manifests = parsed.kind === 'index' ? parsed.manifests : [];

  it('leaves build attestations out of the platforms', () => {
    expect(platformsOf(manifests).map((p) => p.digest)).to.deep.equal([arm64.digest, amd64.digest]);
  });

  it('picks linux/amd64 for the config wherever it is listed', () => {
    expect(defaultPlatformManifest(manifests)?.digest).to.equal(amd64.digest);
  });

  it('picks the first platform when there is no linux/amd64, never an attestation', () => {
    const armOnly = manifests.filter((m) => m.digest !== amd64.digest);
    expect(defaultPlatformManifest(armOnly)?.digest).to.equal(arm64.digest);
    expect(defaultPlatformManifest(manifests.filter((m) => m.attestation))).to.equal(undefined);
  });
});
