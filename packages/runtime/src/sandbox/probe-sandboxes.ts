import type { ImageProbe, ProbeProgram, ProbeResult } from '../image/image-discovery.js';
import type { BubblewrapDriver } from './bubblewrap-driver.js';
import type { HomeMounts } from './home-mounts.js';
import type { SandboxLimits } from './sandbox-types.js';

/** A probe prints a version: small limits, and no network (a sandbox without one has an empty namespace). */
const PROBE_LIMITS: SandboxLimits = { cpus: 1, memoryBytes: 256 << 20, pids: 64, tmpBytes: 16 << 20, homeBytes: 16 << 20 };
const PROBE_TIMEOUT_MS = 10_000;
/** How much of a failed probe's output its reason quotes. */
const REASON_BYTES = 300;

/**
 * Runs an imported image's programs as calls run code: the root file system mounted as an image root (a read-only
 * overlay, ADR 0015), then one cold sandbox per program through the bubblewrap driver, as the sandbox user, with
 * seccomp, without network, within PROBE_TIMEOUT_MS.
 */
export class ProbeSandboxes implements ImageProbe {
  readonly #homes: HomeMounts;
  readonly #driver: BubblewrapDriver;
  #counter = 0;

  constructor(homes: HomeMounts, driver: BubblewrapDriver) {
    this.#homes = homes;
    this.#driver = driver;
  }

  async run(rootfs: string, programs: readonly ProbeProgram[]): Promise<ProbeResult[]> {
    // A name no image has (image names start with a letter or digit).
    const image = { name: '.probe', version: `${process.pid}-${this.#counter++}`, rootfs };
    const root = await this.#homes.mountImage(image);
    try {
      const results: ProbeResult[] = [];
      for (const program of programs) results.push(await this.#runOne(root, program));
      return results;
    } finally {
      await this.#homes.unmountImage(image);
    }
  }

  async #runOne(root: string, program: ProbeProgram): Promise<ProbeResult> {
    try {
      const sandbox = await this.#driver.prepare({ rootfs: root, language: program.language, interpreter: program.interpreter, limits: PROBE_LIMITS });
      try {
        const outcome = await sandbox.run({ code: program.code, env: {}, timeoutMs: PROBE_TIMEOUT_MS });
        if (outcome.status === 'success') return { ok: true, stdout: outcome.stdout };
        const output = (outcome.stderr.trim() || outcome.stdout.trim()).slice(0, REASON_BYTES);
        return { ok: false, reason: `${outcome.status} (exit code ${outcome.exitCode})${output ? `: ${output}` : ''}` };
      } finally {
        await sandbox.destroy();
      }
    } catch (error) {
      return { ok: false, reason: (error as Error).message.slice(0, REASON_BYTES) };
    }
  }
}
