import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parseDockerfile } from '../../support/dockerfile.ts';
import { REPOSITORY_ROOT } from '../../support/operator-process.ts';

/** The V8 flags of the Dockerfile's ENTRYPOINT: what comes between `node` and the script. */
function entrypointFlags(): string[] {
  const instructions = parseDockerfile(fs.readFileSync(path.join(REPOSITORY_ROOT, 'Dockerfile'), 'utf8'));
  const entrypoint = JSON.parse(instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1)!.args) as string[];
  expect(entrypoint[0]).to.equal('node');
  return entrypoint.slice(1, -1);
}

/** The young generation's size after 300,000 live objects have made it grow: up to two semi-spaces. */
const NEW_SPACE_PROBE = `
const kept = [];
for (let i = 0; i < 300000; i++) kept.push({ i, s: 'x' + i });
const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(space.space_size));
`;

describe("the image's V8 flags", () => {
  it('let the young generation grow to the semi-spaces --max-semi-space-size asks for (--optimize-for-size would cap them at 1 MiB)', () => {
    const flags = entrypointFlags();
    const semiSpaceMiB = Number(flags.map((flag) => /^--max-semi-space-size=(\d+)$/.exec(flag)?.[1]).find((v) => v !== undefined));
    expect(semiSpaceMiB, 'the ENTRYPOINT sets --max-semi-space-size').to.be.above(0);
    const newSpaceBytes = Number(execFileSync(process.execPath, [...flags, '-e', NEW_SPACE_PROBE], { encoding: 'utf8' }));
    // At least what was asked: a flag that caps the semi-spaces leaves it below. (One loaded CI run saw it
    // above, 8.25 MiB against 4, so this does not ask for equality.)
    expect(newSpaceBytes / 1048576).to.be.at.least(2 * semiSpaceMiB);
  });
});
