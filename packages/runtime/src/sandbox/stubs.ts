import { readFileSync } from 'node:fs';
import { RUN_FILES_ROOT, type SandboxLanguage } from './sandbox-types.js';

const STUB_FILES: Record<SandboxLanguage, string> = {
  python: 'python-stub.py',
  node: 'node-stub.js',
  bash: 'bash-stub.sh',
};

const INLINE_FLAG: Record<SandboxLanguage, string> = { python: '-c', node: '-e', bash: '-c' };

const cache = new Map<SandboxLanguage, string>();

function stubSource(language: SandboxLanguage): string {
  let source = cache.get(language);
  if (source === undefined) {
    source = readFileSync(new URL(`../../stubs/${STUB_FILES[language]}`, import.meta.url), 'utf8');
    cache.set(language, source);
  }
  return source;
}

/** The interpreter command line that starts a language's stub; the stub then waits for code on fd 3. */
export function stubCommand(language: SandboxLanguage, interpreter: string): string[] {
  return [interpreter, INLINE_FLAG[language], stubSource(language)];
}

/**
 * The command line of a python fork template (stubs/python-fork-template.py): the python stub's functions, which each
 * forked interpreter runs, then the template's own code.
 */
export function forkTemplateCommand(interpreter: string): string[] {
  if (forkTemplateSource === undefined) {
    const stub = stubSource('python');
    const call = '\n_airlock_main()\n';
    if (!stub.endsWith(call)) throw new Error('the python stub must end by calling _airlock_main()');
    const template = readFileSync(new URL('../../stubs/python-fork-template.py', import.meta.url), 'utf8');
    forkTemplateSource = `${stub.slice(0, -call.length)}\n\n\n${template}`;
  }
  return [interpreter, '-c', forkTemplateSource];
}

let forkTemplateSource: string | undefined;

/**
 * Code up to this many bytes, without NUL, the bash stub reads with its `read` builtin, which costs about 30 ns a byte
 * here; longer code, or code with NUL (a shell variable cannot hold one), goes through `cat`, whose start costs about
 * a millisecond.
 */
export const BASH_BUILTIN_READ_MAX_BYTES = 16 * 1024;

/**
 * Encodes one request for a stub: working directory, variable count and NAME=value entries, file count and path,
 * content pairs, each NUL-terminated, then the code up to end of file. Before the code, bash's request has one more
 * field: the code's length in bytes when the stub reads it with its `read` builtin, empty when it runs `cat`.
 */
export function encodeStubRequest(
  language: SandboxLanguage,
  request: {
    cwd: string;
    env: Record<string, string>;
    files?: ReadonlyArray<{ path: string; content: string }>;
    code: string;
  },
): Buffer {
  const entries = Object.entries(request.env).map(([name, value]) => `${name}=${value}\0`);
  const files = request.files ?? [];
  for (const file of files) {
    if (!file.path.startsWith(`${RUN_FILES_ROOT}/`) || file.path.split('/').some((segment) => segment === '..' || segment === '.')) {
      throw new Error(`a sandbox file must be below ${RUN_FILES_ROOT}: ${file.path}`);
    }
    if (file.path.includes('\0') || file.content.includes('\0')) throw new Error('sandbox files hold no NUL');
  }
  const code = Buffer.from(request.code);
  return Buffer.concat([
    Buffer.from(`${request.cwd}\0${entries.length}\0${entries.join('')}`),
    Buffer.from(`${files.length}\0${files.map((file) => `${file.path}\0${file.content}\0`).join('')}`),
    ...(language === 'bash' ? [Buffer.from(`${bashCodeLength(code)}\0`)] : []),
    code,
  ]);
}

function bashCodeLength(code: Buffer): string {
  return code.length <= BASH_BUILTIN_READ_MAX_BYTES && !code.includes(0) ? String(code.length) : '';
}
