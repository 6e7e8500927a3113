/**
 * The reliability campaign (issue 14): runs test/reliability on one control plane and prints the
 * scorecard, one row per fault or input class, whether the tests passed or not.
 *
 *   node test/reliability/run.ts full   `npm run test:reliability`: the sizes and the soak
 *   node test/reliability/run.ts fast   the subset `npm test` runs
 *
 * Extra arguments go to mocha (e.g. --grep crash). The table also goes to
 * .reliability/scorecard-<profile>.md (gitignored) for the README's reliability section.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readScorecard, scorecardTable } from '../support/scorecard.ts';

const root = path.resolve(import.meta.dirname, '../..');

async function main(): Promise<void> {
  const [profile = 'fast', ...mochaArgs] = process.argv.slice(2);
  if (profile !== 'fast' && profile !== 'full') throw new Error(`profile must be fast or full, not ${profile}`);
  const outDir = path.join(root, '.reliability');
  fs.mkdirSync(outDir, { recursive: true });
  const scorecard = path.join(outDir, `scorecard-${profile}.jsonl`);
  fs.rmSync(scorecard, { force: true });
  const startedMs = Date.now();
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('mocha', ['--config', 'test/reliability/.mocharc.json', ...mochaArgs], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, RELIABILITY_PROFILE: profile, ECR_SCORECARD: scorecard },
    });
    child.once('error', reject);
    child.once('close', (exit) => resolve(exit ?? 1));
  });
  const rows = readScorecard(scorecard);
  const table = scorecardTable(rows);
  const seconds = ((Date.now() - startedMs) / 1000).toFixed(0);
  fs.writeFileSync(path.join(outDir, `scorecard-${profile}.md`), `${table}\n`);
  process.stdout.write(`\nReliability scorecard (${profile} profile, ${rows.length} rows, ${seconds} s):\n\n${table}\n`);
  process.exitCode = code;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
