// Credential-shaped text: AWS access key ids, and long base64 runs such as ECR tokens or signatures.
const ACCESS_KEY_ID = /(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}/g;
const LONG_BASE64 = /[A-Za-z0-9+/=_-]{40,}/g;
// Kubernetes names and paths are lower case; a long run is only credential-shaped with upper case and digits in it.
const looksRandom = (run: string) => /[A-Z]/.test(run) && /[0-9]/.test(run) && /[a-z]/.test(run);

/**
 * Removes credentials from text that is about to reach a log, an Event or a status message.
 * `known` lists the exact secret values in play (keys, tokens), which are removed wherever they appear.
 */
export function redact(text: string, known: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of known) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out.replace(ACCESS_KEY_ID, '[REDACTED]').replace(LONG_BASE64, (run) => (looksRandom(run) ? '[REDACTED]' : run));
}
