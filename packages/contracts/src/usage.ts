import { z } from 'zod';
import { OrganizationSlug } from './admin.js';
import { EXECUTION_RECORD_STATUSES } from './responses.js';

/** What an organization used over recent days: the console's overview (`GET /admin/v1/usage`). */

export const USAGE_DAYS = { default: 14, min: 1, max: 90 } as const;

export const UsageQuery = z.strictObject({
  organization: OrganizationSlug.optional(),
  days: z
    .string()
    .regex(/^\d+$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(USAGE_DAYS.min).max(USAGE_DAYS.max))
    .optional()
    .describe(`how many UTC days, today included: ${USAGE_DAYS.min}-${USAGE_DAYS.max}; default ${USAGE_DAYS.default}`),
});
export type UsageQuery = z.infer<typeof UsageQuery>;

export const ExecutionsByStatus = z
  .record(z.enum(EXECUTION_RECORD_STATUSES), z.number().int().min(0))
  .describe('executions per status, every status present (0 when none)')
  .meta({ id: 'ExecutionsByStatus' });
export type ExecutionsByStatus = z.infer<typeof ExecutionsByStatus>;

const executionMeasures = {
  executions: z.number().int().min(0).describe('executions accepted (by their `created_at`), running ones included'),
  by_status: ExecutionsByStatus,
  p50_duration_ms: z.number().nullable().describe('median `duration_ms` of the finished executions; null when none finished'),
  p95_duration_ms: z.number().nullable().describe('95th percentile `duration_ms` of the finished executions; null when none finished'),
  cpu_seconds: z.number().min(0).describe("CPU time the executions' sandboxes used, as their cgroups accounted it"),
};

export const UsageDay = z
  .object({ day: z.iso.date().describe('a UTC calendar day'), ...executionMeasures })
  .meta({ id: 'UsageDay' });
export type UsageDay = z.infer<typeof UsageDay>;

export const UsageTotals = z
  .object({
    ...executionMeasures,
    p50_duration_ms: executionMeasures.p50_duration_ms.describe('median `duration_ms` over the whole range (not an average of the days)'),
    p95_duration_ms: executionMeasures.p95_duration_ms.describe('95th percentile `duration_ms` over the whole range'),
    active_threads: z
      .number()
      .int()
      .min(0)
      .describe(
        'threads that exist now and were created or used (a call began in them) within the range; a thread past its retention leaves the count when the retention sweep deletes it',
      ),
    storage_bytes: z
      .number()
      .int()
      .min(0)
      .describe(
        "bytes in the organization's managed volumes, as last measured (after each call or Files API change that could write one); thread homes and the organization's own buckets are not counted",
      ),
    volumes: z.number().int().min(0).describe('managed volumes the organization has'),
    unmeasured_volumes: z.number().int().min(0).describe('of those, volumes not measured yet, which `storage_bytes` lacks'),
  })
  .meta({ id: 'UsageTotals' });
export type UsageTotals = z.infer<typeof UsageTotals>;

export const UsageResponse = z
  .object({
    organization: z.string().describe('the organization slug'),
    first_day: z.iso.date().describe('the first UTC day of the range'),
    last_day: z.iso.date().describe('the last UTC day of the range: today'),
    daily: z.array(UsageDay).describe('every day of the range, oldest first, days without executions included'),
    totals: UsageTotals,
  })
  .meta({ id: 'UsageResponse' });
export type UsageResponse = z.infer<typeof UsageResponse>;
