import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { CHART_DIR, currentReadme } from '../tools/chart-values-table.ts';

/**
 * deploy/chart/README.md's values table is written by `npm run chart:docs` from values.schema.json
 * and values.yaml: this fails when someone changed either and did not run it, and when the schema
 * leaves a value undocumented (the generator's own error says which).
 */
describe('deploy/chart/README.md', () => {
  it('shows the values table that npm run chart:docs writes from values.schema.json and values.yaml', () => {
    const { readme, expected } = currentReadme();
    if (readme !== expected) {
      const ours = readme.split('\n');
      const theirs = expected.split('\n');
      const line = ours.findIndex((text, index) => text !== theirs[index]);
      const at = line < 0 ? theirs.length : line;
      expect.fail(
        'deploy/chart/README.md: the values table is not current: run `npm run chart:docs`\n' +
          `  first difference at line ${at + 1}:\n  README:    ${ours[at] ?? '(end)'}\n  generated: ${theirs[at] ?? '(end)'}`,
      );
    }
  });

  it('has a row for every value values.yaml sets', () => {
    const keys = new Set(currentReadme().rows.map((row) => row.key));
    const values = load(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    // A key is a row, or an object whose keys are rows (a map such as podLabels is one row).
    const missing: string[] = [];
    const visit = (value: unknown, key: string) => {
      if (keys.has(key)) {
        const nested = typeof value === 'object' && value !== null && !Array.isArray(value) && [...keys].some((k) => k.startsWith(`${key}.`));
        if (nested) for (const [name, inner] of Object.entries(value)) visit(inner, `${key}.${name}`);
        return;
      }
      missing.push(key);
    };
    for (const [name, value] of Object.entries(values)) visit(value, name);
    expect(missing, 'values.yaml keys with no row in the table (describe them in values.schema.json)').to.deep.equal([]);
  });
});
