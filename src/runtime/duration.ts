const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
// µ written as \u00b5: esbuild leaves regular expressions unescaped, and a bundle with any non-ASCII character
// is held by V8 as UTF-16 source, twice the memory (see the Dockerfile).
const PART = /([0-9]+(?:\.[0-9]+)?)(ns|us|\u00b5s|ms|s|m|h)/y;

/** Parses a Go-style duration ("1h30m", "90s", "250ms", "1.5h") to milliseconds; undefined when it isn't one. */
export function parseDuration(text: string): number | undefined {
  if (!text) return undefined;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    PART.lastIndex = index;
    const match = PART.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    index = PART.lastIndex;
  }
  return total;
}
