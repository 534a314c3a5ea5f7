import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeServerDirectory, startNamespaceServer } from './namespace-server.js';

/**
 * A fake GitHub for the GitHub connector's tests (fake-github-server.mjs), in the internet host's namespace at the
 * topology's `githubAddress`, where the test DNS server sends `github.com` and `api.github.com`: one repository with
 * one commit, cloned over HTTPS (git's smart HTTP through `git http-backend`) with the token as the Basic password,
 * and `GET https://api.github.com/user`. It records every request, so a test can check what a client sent.
 */
export interface FakeGitHub {
  /** `github.com`. */
  host: string;
  /** The address it listens on (the topology's `githubAddress`). */
  address: string;
  port: number;
  /** The one credential it takes. */
  token: string;
  /** Its repository, `owner/name`. */
  repository: string;
  /** `https://github.com/<repository>.git`. */
  cloneUrl: string;
  /** The hash of the repository's one commit, on `main`, which adds README.md holding `readme`. */
  commit: string;
  readme: string;
  /** The login `GET /user` answers: `airlock-test`. */
  login: string;
  /** Every request it received so far, oldest first. */
  requests(): FakeGitHubRequest[];
  /** Stops the server and deletes the repository. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface FakeGitHubRequest {
  method: string;
  /** The Host header's name, without a port: `github.com` or `api.github.com`. */
  host: string;
  /** The path with its query: `/airlock-test/hello.git/info/refs?service=git-upload-pack`. */
  path: string;
  /** The Authorization header's scheme, lower-case (`basic`, `token`, `bearer`...); null without the header. */
  scheme: string | null;
  /** Basic's user name; null for other schemes. */
  username: string | null;
  /** The credential it carried: Basic's password, or the token of `token` and `Bearer`; null without one. */
  token: string | null;
  /**
   * Whether it carried the token: as Basic's password (any user name) or user name for git, with `token` or `Bearer`
   * for the API.
   */
  authorized: boolean;
}

export interface FakeGitHubOptions {
  /** The internet host's namespace: `topology.namespaces.internet`. */
  namespace: string;
  /** `topology.githubAddress`. */
  address: string;
  /** 443 by default. */
  port?: number;
  /** Random by default. */
  token?: string;
  /** A certificate for github.com and api.github.com: `topology.issueCertificate(['github.com', 'api.github.com'])`. */
  tls: { certificate: string; key: string };
  /** `owner/name`; `airlock-test/hello` by default. */
  repository?: string;
}

const SERVER_SCRIPT = fileURLToPath(new URL('./fake-github-server.mjs', import.meta.url));
const LOGIN = 'airlock-test';

/** Starts the fake GitHub with a new repository; stop() it when done. */
export async function startFakeGitHub(options: FakeGitHubOptions): Promise<FakeGitHub> {
  const repository = options.repository ?? 'airlock-test/hello';
  if (!/^[\w.-]+\/[\w.-]+$/.test(repository)) throw new Error(`repository "${repository}" must be owner/name`);
  const token = options.token ?? `ghp_${randomBytes(18).toString('hex')}`;
  const port = options.port ?? 443;
  const directory = await makeServerDirectory('airlock-fake-github-');
  const projectRoot = join(directory, 'repositories');
  const readme = `# ${repository}\n\nA repository of Airlock's fake GitHub.\n`;
  const logFile = join(directory, 'requests.jsonl');
  let commit: string;
  try {
    commit = await createRepository({ directory, bare: join(projectRoot, `${repository}.git`), readme });
    const configuration = {
      address: options.address,
      port,
      certificateFile: join(directory, 'server.pem'),
      keyFile: join(directory, 'server.key'),
      projectRoot,
      token,
      login: LOGIN,
      logFile,
    };
    await writeFile(configuration.certificateFile, options.tls.certificate);
    await writeFile(configuration.keyFile, options.tls.key, { mode: 0o600 });
    await writeFile(logFile, '');
    await writeFile(join(directory, 'configuration.json'), JSON.stringify(configuration), { mode: 0o600 });
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const server = await startNamespaceServer({
    name: 'the fake GitHub',
    namespace: options.namespace,
    address: options.address,
    port,
    command: process.execPath,
    args: [SERVER_SCRIPT, join(directory, 'configuration.json')],
    directory,
  });
  return {
    host: 'github.com',
    address: options.address,
    port,
    token,
    repository,
    cloneUrl: `https://github.com/${repository}.git`,
    commit,
    readme,
    login: LOGIN,
    requests: () =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as FakeGitHubRequest)
        : [],
    stop: server.stop,
  };
}

/** A bare repository at `bare` with one commit on main adding README.md; answers the commit's hash. */
async function createRepository(options: { directory: string; bare: string; readme: string }): Promise<string> {
  const work = join(options.directory, 'work');
  await mkdir(work);
  const environment = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: options.directory,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Airlock test',
    GIT_AUTHOR_EMAIL: 'test@airlock.invalid',
    GIT_COMMITTER_NAME: 'Airlock test',
    GIT_COMMITTER_EMAIL: 'test@airlock.invalid',
  };
  const git = (...args: string[]) => execFileSync('git', args, { env: environment, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  git('init', '--quiet', '--initial-branch=main', work);
  await writeFile(join(work, 'README.md'), options.readme);
  git('-C', work, 'add', 'README.md');
  git('-C', work, 'commit', '--quiet', '--message', 'Initial commit');
  git('clone', '--quiet', '--bare', work, options.bare);
  const commit = git('-C', work, 'rev-parse', 'HEAD');
  await rm(work, { recursive: true, force: true });
  return commit;
}
