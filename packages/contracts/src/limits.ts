/** Request limits of the wire contract (docs/api.md). */
export const LIMITS = {
  codeMaxBytes: 1024 * 1024,
  /** Whole request body; code plus the JSON around it. */
  bodyMaxBytes: 2 * 1024 * 1024,
  timeoutDefaultSeconds: 60,
  timeoutMaxSeconds: 3600,
  metadataMaxKeys: 10,
  metadataKeyMaxLength: 64,
  metadataValueMaxLength: 512,
  envVarsMaxCount: 128,
  envVarNameMaxLength: 128,
  envVarValueMaxBytes: 32 * 1024,
  envVarsTotalMaxBytes: 128 * 1024,
  outputMaxBytes: 64 * 1024,
  /** Entries of `sub_paths`; one per mount. */
  subPathsMaxEntries: 16,
} as const;

/** Names the sandbox sets itself or that change how the loader and shells start; requests may not set them. */
export const RESERVED_ENV_NAMES: readonly string[] = [
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'USER',
  'LOGNAME',
  'SHELL',
  'PWD',
  'OLDPWD',
  'HOSTNAME',
  'IFS',
  'BASH_ENV',
  'ENV',
];

/** Name prefixes that are reserved in the same way as RESERVED_ENV_NAMES. */
export const RESERVED_ENV_PREFIXES: readonly string[] = ['LD_', 'AIRLOCK_', 'BASH_FUNC_'];

export function isReservedEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return RESERVED_ENV_NAMES.includes(upper) || RESERVED_ENV_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/**
 * Request fields of the Baponi API this server does not serve yet, with the answer a request using one gets: they
 * are not in the request schemas (so not advertised as accepted), and a request naming one is refused with this.
 */
export const UNSERVED_FIELDS: Readonly<Record<string, string>> = {};
