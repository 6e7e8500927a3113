/**
 * `npm run chart:docs`: writes the values table of deploy/chart/README.md, between its marker
 * comments, from deploy/chart/values.schema.json (each value's type and description) and
 * deploy/chart/values.yaml (its default). Nested objects become dotted keys (`image.tag`); maps,
 * arrays and Kubernetes passthroughs are one row each. test/docs/chart-values-table.test.ts fails
 * when the table in the README is not what this writes.
 *
 * A value without a description in the schema is an error, listed with every other one, so the
 * schema (which editors and `helm install` errors show too) stays documented.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';

export const CHART_DIR = path.resolve(import.meta.dirname, '../../deploy/chart');
export const TABLE_BEGIN = '<!-- values-table:begin (written by `npm run chart:docs` from values.schema.json and values.yaml) -->';
export const TABLE_END = '<!-- values-table:end -->';

/** The parts of JSON Schema (draft-07, as Helm reads values.schema.json) that the table shows. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema | JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  definitions?: Record<string, JsonSchema>;
  $defs?: Record<string, JsonSchema>;
  /** Keywords the table does not show: pattern, minimum, required... */
  [keyword: string]: unknown;
}

export interface ValueRow {
  /** Dotted path, e.g. `leaderElection.leaseDuration`. */
  key: string;
  type: string;
  /** values.yaml's value, as JSON; absent for an object whose values have rows of their own. */
  default?: { value: unknown } | undefined;
  description: string;
}

/**
 * One row per value the chart takes: properties of nested objects are flattened to dotted keys;
 * an object without `properties` (a map, or a passthrough such as affinity) and an array are one row.
 * Throws, naming every one, when a property has no description.
 */
export function valueRows(schema: JsonSchema, values: unknown): ValueRow[] {
  const rows: ValueRow[] = [];
  const undocumented: string[] = [];
  const visit = (node: JsonSchema, keyPath: string[]) => {
    const resolved = resolve(schema, node);
    const key = keyPath.join('.');
    const description = resolved.description?.trim();
    if (!description) undocumented.push(key);
    const children = propertiesOf(schema, resolved);
    if (children.length > 0) {
      // The object's own row says what its values are for; their defaults are in the rows below it.
      rows.push({ key, type: typeText(schema, resolved), description: description ?? '' });
      for (const [name, child] of children) visit(child, [...keyPath, name]);
      return;
    }
    rows.push({ key, type: typeText(schema, resolved), default: valueAt(values, keyPath), description: description ?? '' });
  };
  for (const [name, child] of propertiesOf(schema, schema)) visit(child, [name]);
  if (undocumented.length > 0) {
    throw new Error(
      `values.schema.json: ${undocumented.length} propert${undocumented.length === 1 ? 'y has' : 'ies have'} no description: ${undocumented.join(', ')}. ` +
        'Describe each in the schema (a description on the property, or on the definition its $ref names), then run npm run chart:docs.',
    );
  }
  return rows;
}

/** The Markdown table of `rows`. */
export function renderTable(rows: readonly ValueRow[]): string {
  const lines = ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |'];
  for (const row of rows) {
    const defaultCell = row.default === undefined ? '' : row.default.value === undefined ? '(not set)' : code(JSON.stringify(row.default.value));
    lines.push(`| ${cell(code(row.key))} | ${cell(row.type)} | ${cell(defaultCell)} | ${cell(prose(row.description))} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** `readme` with the text between the markers replaced by `table`. */
export function withTable(readme: string, table: string): string {
  const begin = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  if (begin < 0 || end < 0 || end < begin) throw new Error(`the README needs the two marker lines, in this order:\n${TABLE_BEGIN}\n${TABLE_END}`);
  if (readme.indexOf(TABLE_BEGIN, begin + 1) >= 0 || readme.indexOf(TABLE_END, end + 1) >= 0) throw new Error('the README has the values table markers more than once');
  return `${readme.slice(0, begin)}${TABLE_BEGIN}\n\n${table}\n${readme.slice(end)}`;
}

/** The README as `npm run chart:docs` writes it, from the chart's files as they are now. */
export function currentReadme(chartDir = CHART_DIR): { readmePath: string; readme: string; expected: string; rows: ValueRow[] } {
  const schema = JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8')) as JsonSchema;
  const values = load(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8'));
  const readmePath = path.join(chartDir, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const rows = valueRows(schema, values);
  return { readmePath, readme, expected: withTable(readme, renderTable(rows)), rows };
}

/** Follows `$ref` (a JSON pointer into the root schema); the referring node's own keywords, such as its description, win. */
function resolve(root: JsonSchema, node: JsonSchema, seen: string[] = []): JsonSchema {
  if (node.$ref === undefined) return node;
  if (!node.$ref.startsWith('#/')) throw new Error(`values.schema.json: only local $refs (#/...) are supported, got ${node.$ref}`);
  if (seen.includes(node.$ref)) throw new Error(`values.schema.json: $ref cycle through ${node.$ref}`);
  let target: unknown = root;
  for (const part of node.$ref.slice(2).split('/')) {
    const name = part.replace(/~1/g, '/').replace(/~0/g, '~');
    target = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[name] : undefined;
  }
  if (typeof target !== 'object' || target === null) throw new Error(`values.schema.json: $ref ${node.$ref} names nothing`);
  const { $ref: _ref, ...own } = node;
  return { ...resolve(root, target as JsonSchema, [...seen, node.$ref]), ...own };
}

/** Named properties, including those of allOf/oneOf/anyOf branches (the first description of a name wins). */
function propertiesOf(root: JsonSchema, schema: JsonSchema): Array<[string, JsonSchema]> {
  const found = new Map<string, JsonSchema>(Object.entries(schema.properties ?? {}));
  for (const branch of [...(schema.allOf ?? []), ...(schema.oneOf ?? []), ...(schema.anyOf ?? [])]) {
    for (const [name, child] of propertiesOf(root, resolve(root, branch))) if (!found.has(name)) found.set(name, child);
  }
  return [...found];
}

/** `string`, `integer or string`, `boolean or null`, `array of string`, `map of string`, or the allowed values. */
function typeText(root: JsonSchema, schema: JsonSchema): string {
  if (schema.enum) return `one of ${schema.enum.map((value) => code(JSON.stringify(value))).join(', ')}`;
  if (schema.const !== undefined) return code(JSON.stringify(schema.const));
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const texts = types.map((type) => {
    if (type === 'array') {
      const items = Array.isArray(schema.items) ? schema.items[0] : schema.items;
      return items ? `array of ${grouped(typeText(root, resolve(root, items)))}` : 'array';
    }
    if (type === 'object' && typeof schema.additionalProperties === 'object') {
      return `map of ${grouped(typeText(root, resolve(root, schema.additionalProperties)))}`;
    }
    return type;
  });
  const branches = [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].map((branch) => typeText(root, resolve(root, branch)));
  // A type beside oneOf/anyOf already says what every branch must be; the branches only narrow it.
  const all = [...new Set(texts.length > 0 ? texts : branches)];
  if (all.length === 0) return 'any';
  return all.length === 1 ? all[0]! : all.map((text) => (/^(array|map) of /.test(text) ? `(${text})` : text)).join(' or ');
}

/** An element type, in parentheses when it is a choice: `array of (integer or null)`. */
function grouped(text: string): string {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (depth === 0 && text.startsWith(' or ', i)) return `(${text})`;
  }
  return text;
}

/** The value at `keyPath` in values.yaml; `{ value: undefined }` when it is not there. */
function valueAt(values: unknown, keyPath: readonly string[]): { value: unknown } {
  let current = values;
  for (const key of keyPath) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, key)) return { value: undefined };
    current = (current as Record<string, unknown>)[key];
  }
  return { value: current };
}

/** A code span that survives backticks in its text. */
function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** A description as Markdown shows it: `<` outside code spans is text (`<release name>`), not the start of an HTML tag. */
function prose(text: string): string {
  return text
    .split(/(`+[^`]*`+)/)
    .map((part, index) => (index % 2 === 1 ? part : part.replace(/&/g, '&amp;').replace(/</g, '&lt;')))
    .join('');
}

/** A table cell: one line, and pipes escaped (GitHub needs `\|` inside code spans in tables too). */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

if (import.meta.main) {
  try {
    const { readmePath, readme, expected, rows } = currentReadme();
    const relative = path.relative(process.cwd(), readmePath);
    if (expected === readme) {
      process.stdout.write(`${relative}: the values table is current (${rows.length} values)\n`);
    } else {
      writeFileSync(readmePath, expected);
      process.stdout.write(`${relative}: wrote the values table (${rows.length} values)\n`);
    }
  } catch (error) {
    process.stderr.write(`chart:docs: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
