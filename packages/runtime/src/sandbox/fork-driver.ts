import { closeSync, writeSync } from 'node:fs';
import { BubblewrapSandbox } from './bubblewrap-driver.js';
import { ForkTemplate, type ForkTemplateOptions } from './fork-template.js';
import type { HomeMounts, SandboxHome } from './home-mounts.js';
import type { SandboxPipe } from './pipe-factory.js';
import type { PreparedSandbox, SandboxSpec } from './sandbox-types.js';

export interface ForkDriverOptions extends Omit<ForkTemplateOptions, 'rootfs' | 'interpreter' | 'mountRoot'> {
  homes: HomeMounts;
  outputLimitBytes: number;
  /** Told when a template has started: how long its start and imports took and which preloaded modules the image lacks. */
  onTemplateStarted?: (event: { rootfs: string; milliseconds: number; unavailable: string[] }) => void;
}

/**
 * Prepares python sandboxes as forks of a template interpreter (one per image root and interpreter) that has imported
 * the preloaded modules: each fork gets new pid, mount, UTS, IPC, network and cgroup namespaces, its own zones and
 * cgroup, no capabilities and the sandbox's seccomp filter, then runs the same stub as a fresh sandbox.
 */
export class ForkDriver {
  readonly #options: ForkDriverOptions;
  readonly #templates = new Map<string, Promise<ForkTemplate>>();

  constructor(options: ForkDriverOptions) {
    this.#options = options;
  }

  async prepare(spec: SandboxSpec): Promise<PreparedSandbox> {
    const options = this.#options;
    if (spec.language !== 'python' || spec.network) throw new Error('the fork tier runs python without network only');
    const template = await this.#template(spec);
    const { limits } = spec;
    const slot = await options.cgroups.lease({ cpus: limits.cpus, memoryBytes: limits.memoryBytes, pids: limits.pids });
    const pipes: SandboxPipe[] = [];
    let home: SandboxHome | undefined;
    try {
      home = await options.homes.create(limits.homeBytes);
      const stubPipes = await options.pipes.stubPipes(pipes);
      const forked = await template.fork({ home: home.path, data: home.dataPath, tmpBytes: limits.tmpBytes, pipes: stubPipes, slot });
      // In its cgroup: the interpreter may go on.
      writeSync(stubPipes[2].hostFd, 'G');
      const sandbox = new BubblewrapSandbox({
        spec,
        process: forked,
        slot,
        home,
        cgroups: options.cgroups,
        pipes: stubPipes,
        outputLimitBytes: options.outputLimitBytes,
        startTimeoutMs: 30_000,
      });
      // The interpreter has opened its ends once it reports ready (or it has ended).
      void sandbox.ready.catch(() => undefined).finally(() => {
        for (const pipe of pipes) options.pipes.unlink(pipe);
      });
      return sandbox;
    } catch (error) {
      for (const pipe of pipes) {
        closeSync(pipe.hostFd);
        options.pipes.unlink(pipe);
      }
      await home?.remove();
      await slot.killAll().catch(() => undefined);
      await options.cgroups.release(slot);
      throw error;
    }
  }

  /** Starts the template of an image root and interpreter ahead of its first fork; resolves once it is ready. */
  async startTemplate(image: { rootfs: string; interpreter: string }): Promise<void> {
    await this.#template(image);
  }

  /** Stops the templates of an image root (a retired image); forks already made run on. */
  async dropImage(rootfs: string): Promise<void> {
    for (const [key, template] of this.#templates) {
      if (!key.startsWith(`${rootfs}\0`)) continue;
      this.#templates.delete(key);
      await (await template.catch(() => undefined))?.close();
    }
  }

  async close(): Promise<void> {
    const templates = [...this.#templates.values()];
    this.#templates.clear();
    for (const template of templates) await (await template.catch(() => undefined))?.close();
  }

  /** The running template for a spec's image and interpreter, started (or started again) when there is none. */
  async #template(spec: { rootfs: string; interpreter: string }): Promise<ForkTemplate> {
    const key = `${spec.rootfs}\0${spec.interpreter}`;
    const current = this.#templates.get(key);
    if (current) {
      const template = await current.catch(() => undefined);
      if (template?.isAlive) return template;
      if (this.#templates.get(key) === current) this.#templates.delete(key);
    }
    let started = this.#templates.get(key);
    if (!started) {
      const begun = performance.now();
      started = ForkTemplate.start({ ...this.#options, rootfs: spec.rootfs, interpreter: spec.interpreter, mountRoot: this.#options.homes.root }).then(
        ({ template, unavailable }) => {
          this.#options.onTemplateStarted?.({ rootfs: spec.rootfs, milliseconds: Math.round(performance.now() - begun), unavailable });
          return template;
        },
      );
      this.#templates.set(key, started);
      started.catch(() => {
        if (this.#templates.get(key) === started) this.#templates.delete(key);
      });
    }
    return started;
  }
}
