/**
 * Runs fn with exactly these AWS_* variables set (and no machine-wide AWS config, credentials file or
 * instance metadata), restoring the environment afterwards: the SDK's providers read it when they run.
 */
export async function withAwsEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  const names = new Set([
    ...Object.keys(process.env).filter((name) => name.startsWith('AWS_') && name !== 'AWS_CA_BUNDLE'),
    ...Object.keys(vars),
  ]);
  for (const name of names) saved.set(name, process.env[name]);
  try {
    for (const name of names) delete process.env[name];
    // No shared config or credentials file of the machine may answer before the step under test.
    process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    for (const [name, value] of Object.entries(vars)) if (value !== undefined) process.env[name] = value;
    return await fn();
  } finally {
    for (const name of ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED']) {
      if (!saved.has(name)) saved.set(name, undefined);
    }
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
