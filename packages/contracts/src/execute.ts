import { z } from 'zod';
import { LIMITS, isReservedEnvName } from './limits.js';
import { SubPaths } from './storage-paths.js';

export const LANGUAGES = ['python', 'node', 'bash'] as const;
export const Language = z.enum(LANGUAGES);
export type Language = z.infer<typeof Language>;

export const EXECUTION_STATUSES = ['success', 'failed', 'timeout', 'oom', 'blocked', 'cancelled'] as const;
export const ExecutionStatus = z.enum(EXECUTION_STATUSES);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

/**
 * Why an execution did not finish normally, in the response's `error`. The Baponi SDK's codes where it has one:
 * `timeout`, `memory_limit_exceeded`, `blocked`; Airlock's own for the rest.
 */
export const EXECUTION_ERROR_CODES = [
  'timeout',
  'memory_limit_exceeded',
  'blocked',
  'cancelled',
  'sandbox_error',
  'thread_save_error',
  'server_stopped',
] as const;
export type ExecutionErrorCode = (typeof EXECUTION_ERROR_CODES)[number];

export const DELIVERY_MODES = ['inline', 'streaming', 'webhook'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

const encoder = new TextEncoder();
const byteLength = (value: string): number => encoder.encode(value).byteLength;

export const THREAD_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Trace ids Airlock issues are `trc_` and 20 base32 characters; any id of this form may be looked up. */
export const TRACE_ID_PATTERN = /^trc_[A-Za-z0-9_-]{1,64}$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const EnvVars = z
  .record(
    z.string(),
    z
      .string()
      .refine((value) => !value.includes('\0'), 'values may not contain NUL bytes')
      .refine((value) => byteLength(value) <= LIMITS.envVarValueMaxBytes, {
        message: `values are at most ${LIMITS.envVarValueMaxBytes} bytes`,
      }),
  )
  .superRefine((vars, context) => {
    for (const name of Object.keys(vars)) {
      const problem =
        name.length > LIMITS.envVarNameMaxLength
          ? `names are at most ${LIMITS.envVarNameMaxLength} characters`
          : !ENV_NAME_PATTERN.test(name)
            ? 'names must match ^[A-Za-z_][A-Za-z0-9_]*$'
            : isReservedEnvName(name)
              ? 'name is reserved (PATH, HOME, LANG, TMPDIR, LD_*, AIRLOCK_* and similar are set by the sandbox)'
              : undefined;
      if (problem) context.addIssue({ code: 'custom', path: [name], message: problem });
    }
  })
  .refine((vars) => Object.keys(vars).length <= LIMITS.envVarsMaxCount, {
    message: `at most ${LIMITS.envVarsMaxCount} variables`,
  })
  .refine(
    (vars) =>
      Object.entries(vars).reduce((sum, [name, value]) => sum + byteLength(name) + byteLength(value) + 2, 0) <=
      LIMITS.envVarsTotalMaxBytes,
    { message: `names and values together are at most ${LIMITS.envVarsTotalMaxBytes} bytes` },
  );
export type EnvVars = z.infer<typeof EnvVars>;

export const Metadata = z
  .record(
    z.string(),
    z.string().max(LIMITS.metadataValueMaxLength, `values are at most ${LIMITS.metadataValueMaxLength} characters`),
  )
  .superRefine((metadata, context) => {
    for (const key of Object.keys(metadata)) {
      if (key.length === 0 || key.length > LIMITS.metadataKeyMaxLength) {
        context.addIssue({ code: 'custom', path: [key], message: `keys are 1 to ${LIMITS.metadataKeyMaxLength} characters` });
      }
    }
  })
  .refine((metadata) => Object.keys(metadata).length <= LIMITS.metadataMaxKeys, {
    message: `at most ${LIMITS.metadataMaxKeys} keys`,
  });

export const ExecuteRequest = z.strictObject({
  code: z
    .string({ error: 'required, a string' })
    .refine((code) => code.length > 0, 'must not be empty')
    .refine((code) => byteLength(code) <= LIMITS.codeMaxBytes, {
      message: `at most ${LIMITS.codeMaxBytes} bytes (UTF-8)`,
    }),
  language: Language.default('python'),
  timeout: z
    .number()
    .int('a whole number of seconds')
    .min(1, 'at least 1 second')
    .max(LIMITS.timeoutMaxSeconds, `at most ${LIMITS.timeoutMaxSeconds} seconds`)
    .default(LIMITS.timeoutDefaultSeconds),
  thread_id: z.string().regex(THREAD_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,128}$').optional(),
  metadata: Metadata.optional(),
  env_vars: EnvVars.optional(),
  sub_paths: SubPaths.optional(),
  webhook_url: z.string().max(2048, 'at most 2048 characters').optional(),
});
export type ExecuteRequest = z.infer<typeof ExecuteRequest>;
export type ExecuteRequestInput = z.input<typeof ExecuteRequest>;
