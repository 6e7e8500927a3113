import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { selectedKubernetesVersion } from './versions.ts';

export interface Binaries {
  dir: string;
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
}

const buildScript = path.resolve(import.meta.dirname, '../../controlplane/build.sh');

/**
 * Finds kube-apiserver, etcd and kubectl of the selected Kubernetes version (ECR_TEST_KUBERNETES, or
 * the first pinned one) through test/controlplane/build.sh, which honours KUBEBUILDER_ASSETS, reuses
 * its cache, or builds them once (about 15 minutes cold).
 * On failure the error is the script's own one-line explanation.
 */
export async function locateBinaries(kubernetesVersion = selectedKubernetesVersion()): Promise<Binaries> {
  const { code, stdout, stderr } = await runBuildScript(kubernetesVersion);
  if (code !== 0) {
    const lines = stderr.trimEnd().split('\n');
    // The first error line is the specific one; later ones only say "(see above)".
    const reason =
      lines.find((line) => line.startsWith('controlplane: error:')) ?? lines.at(-1) ?? `exit code ${code}`;
    throw new Error(`${buildScript} failed: ${reason}`);
  }
  const dir = stdout.trimEnd().split('\n').at(-1) ?? '';
  const binaries: Binaries = {
    dir,
    kubeApiserver: path.join(dir, 'kube-apiserver'),
    etcd: path.join(dir, 'etcd'),
    kubectl: path.join(dir, 'kubectl'),
  };
  for (const binary of [binaries.kubeApiserver, binaries.etcd, binaries.kubectl]) {
    try {
      fs.accessSync(binary, fs.constants.X_OK);
    } catch (error) {
      throw new Error(`${buildScript} printed ${dir}, but ${binary} is not an executable`, { cause: error });
    }
  }
  return binaries;
}

function runBuildScript(kubernetesVersion: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [buildScript, kubernetesVersion], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      // Pass on the script's own progress lines so a cold build does not look like a hang.
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('controlplane: ')) process.stderr.write(`${line}\n`);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
