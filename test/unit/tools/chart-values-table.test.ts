import { expect } from 'chai';
import { type JsonSchema, renderTable, TABLE_BEGIN, TABLE_END, valueRows, withTable } from '../../tools/chart-values-table.ts';

describe('the chart values table generator (npm run chart:docs)', () => {
  it('flattens nested objects to dotted keys, each object with a row of its own, defaults from values.yaml', () => {
    const schema: JsonSchema = {
      type: 'object',
      properties: {
        image: {
          description: 'The image.',
          type: 'object',
          properties: { repository: { description: 'Repository.', type: 'string' }, tag: { description: 'Tag.', type: 'string' } },
        },
        replicaCount: { description: 'Replicas.', type: 'integer' },
      },
    };
    const rows = valueRows(schema, { image: { repository: 'ghcr.io/x', tag: '' }, replicaCount: 2 });
    expect(rows).to.deep.equal([
      { key: 'image', type: 'object', description: 'The image.' },
      { key: 'image.repository', type: 'string', default: { value: 'ghcr.io/x' }, description: 'Repository.' },
      { key: 'image.tag', type: 'string', default: { value: '' }, description: 'Tag.' },
      { key: 'replicaCount', type: 'integer', default: { value: 2 }, description: 'Replicas.' },
    ]);
  });

  it('names the shapes a schema takes: nullable booleans, enums, oneOf, arrays, maps, and $refs', () => {
    const schema: JsonSchema = {
      type: 'object',
      properties: {
        enabled: { description: 'On, off, or automatic.', type: ['boolean', 'null'] },
        level: { description: 'Level.', type: 'string', enum: ['info', 'debug'] },
        minAvailable: { description: 'Count or percentage.', oneOf: [{ type: 'integer' }, { type: 'string', pattern: '%$' }] },
        args: { description: 'Flags.', type: 'array', items: { type: 'string' } },
        matrix: { description: 'Nested arrays.', type: 'array', items: { type: 'array', items: { type: ['integer', 'null'] } } },
        labels: { description: 'Labels.', $ref: '#/definitions/stringMap' },
        interval: { $ref: '#/definitions/duration' },
        passthrough: { description: 'Anything.' },
        listOrNull: { description: 'A list, or null.', type: ['array', 'null'], items: { type: 'string' } },
      },
      definitions: {
        stringMap: { type: 'object', additionalProperties: { type: 'string' } },
        duration: { description: 'A Go duration.', type: 'string' },
      },
    };
    const types = Object.fromEntries(valueRows(schema, {}).map((row) => [row.key, [row.type, row.description]]));
    expect(types).to.deep.equal({
      enabled: ['boolean or null', 'On, off, or automatic.'],
      level: ['one of `"info"`, `"debug"`', 'Level.'],
      minAvailable: ['integer or string', 'Count or percentage.'],
      args: ['array of string', 'Flags.'],
      matrix: ['array of array of (integer or null)', 'Nested arrays.'],
      labels: ['map of string', 'Labels.'],
      // No description of its own: the one of the definition its $ref names.
      interval: ['string', 'A Go duration.'],
      passthrough: ['any', 'Anything.'],
      listOrNull: ['(array of string) or null', 'A list, or null.'],
    });
  });

  it('lists the properties of oneOf branches as values of their object', () => {
    const schema: JsonSchema = {
      type: 'object',
      properties: {
        monitor: {
          description: 'A monitor.',
          type: 'object',
          oneOf: [
            { properties: { kind: { description: 'ServiceMonitor or PodMonitor.', type: 'string', enum: ['ServiceMonitor', 'PodMonitor'] } } },
            { properties: { interval: { description: 'Scrape interval.', type: 'string' } } },
          ],
        },
      },
    };
    expect(valueRows(schema, { monitor: { interval: '30s' } }).map((row) => [row.key, row.default])).to.deep.equal([
      ['monitor', undefined],
      ['monitor.kind', { value: undefined }],
      ['monitor.interval', { value: '30s' }],
    ]);
  });

  it('fails naming every property without a description, nested ones included', () => {
    const schema: JsonSchema = {
      type: 'object',
      properties: {
        documented: { description: 'Yes.', type: 'string' },
        bare: { type: 'string' },
        blank: { description: '  ', type: 'string' },
        parent: { type: 'object', properties: { child: { type: 'integer' } } },
      },
    };
    expect(() => valueRows(schema, {})).to.throw(/4 properties have no description: bare, blank, parent, parent\.child\b/);
  });

  it('renders defaults as JSON, a value values.yaml leaves out as (not set), and escapes pipes and HTML', () => {
    const table = renderTable([
      { key: 'image', type: 'object', description: 'The image.' },
      { key: 'a', type: 'string', default: { value: '' }, description: 'One | two\nlines.' },
      { key: 'b', type: 'array of string', default: { value: ['x'] }, description: 'B.' },
      { key: 'c', type: 'integer', default: { value: undefined }, description: 'C.' },
      { key: 'd', type: 'string', default: { value: 'a`b' }, description: 'D.' },
      { key: 'e', type: 'string', default: { value: '' }, description: 'release: <its name> & `<code>`' },
    ]);
    expect(table.split('\n')).to.deep.equal([
      '| Key | Type | Default | Description |',
      '| --- | --- | --- | --- |',
      '| `image` | object |  | The image. |',
      '| `a` | string | `""` | One \\| two lines. |',
      '| `b` | array of string | `["x"]` | B. |',
      '| `c` | integer | (not set) | C. |',
      '| `d` | string | `` "a`b" `` | D. |',
      '| `e` | string | `""` | release: &lt;its name> &amp; `<code>` |',
      '',
    ]);
  });

  it('replaces only what is between the markers, and refuses a README without them', () => {
    const readme = `# Chart\n\n${TABLE_BEGIN}\nold table\n${TABLE_END}\n\nAfter.\n`;
    const updated = withTable(readme, '| new |\n');
    expect(updated).to.equal(`# Chart\n\n${TABLE_BEGIN}\n\n| new |\n\n${TABLE_END}\n\nAfter.\n`);
    expect(withTable(updated, '| new |\n'), 'writing twice changes nothing').to.equal(updated);
    expect(() => withTable('# Chart\n', '| new |\n')).to.throw(/marker/);
    expect(() => withTable(`${TABLE_END}\n${TABLE_BEGIN}\n`, '| new |\n')).to.throw(/marker/);
  });
});
