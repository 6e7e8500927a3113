/** metav1.Time serialises to whole seconds; writing the same keeps read-back equal to what was written. */
export function toKubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Milliseconds since the epoch of an API timestamp, or undefined when it is absent or unparsable. */
export function parseKubeTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
