import fs from 'node:fs';

/**
 * The reliability campaign's scorecard (issue 14): one row per fault or input class, saying what
 * was tried, how many times, what held and what was lost. Tests call recordScore() after their
 * assertions have measured the figures; `npm run test:reliability` prints the rows as a table
 * (test/reliability/scorecard-report.ts). Rows go to the JSON-lines file named by ECR_SCORECARD;
 * without it (a plain mocha run) they are only kept in memory for the current process.
 */
export interface ScoreRow {
  /** The fault or input class, e.g. "apiserver 429 with Retry-After". */
  fault: string;
  /** What was done, e.g. "100 registries on 30 s tokens, proxy answers 429 for 20 s". */
  tried: string;
  /** How many times the fault was injected (or cases run). */
  times: number;
  /** What held, with figures, e.g. "all 100 Ready within 4.1 s; 0 expired samples". */
  held: string;
  /** What was lost, with figures; "nothing" when nothing was. */
  lost: string;
  /** Whether the row met its bar (the test that recorded it also asserts it). */
  ok: boolean;
  /** Which campaign profile measured it: "fast" (inside npm test) or "full". */
  profile?: string;
}

const recorded: ScoreRow[] = [];

export function recordScore(row: ScoreRow): void {
  const withProfile = { ...row, profile: row.profile ?? reliabilityProfile() };
  recorded.push(withProfile);
  const file = process.env.ECR_SCORECARD;
  if (file) fs.appendFileSync(file, `${JSON.stringify(withProfile)}\n`);
}

export function recordedScores(): readonly ScoreRow[] {
  return recorded;
}

/** "full" under `npm run test:reliability` (RELIABILITY_PROFILE=full), else the fast subset's "fast". */
export function reliabilityProfile(): 'fast' | 'full' {
  return process.env.RELIABILITY_PROFILE === 'full' ? 'full' : 'fast';
}

/** Reads a scorecard file written by recordScore(). */
export function readScorecard(file: string): ScoreRow[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ScoreRow);
}

/** The rows as a Markdown table, in the order recorded. */
export function scorecardTable(rows: readonly ScoreRow[]): string {
  const cell = (text: string | number) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = ['| Fault or input | Tried | Times | What held | What was lost | Bar met |', '| --- | --- | ---: | --- | --- | --- |'];
  for (const row of rows) {
    lines.push(`| ${[row.fault, row.tried, row.times, row.held, row.lost, row.ok ? 'yes' : '**no**'].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}
