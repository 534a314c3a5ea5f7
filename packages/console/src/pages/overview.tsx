import type { ExecutionsByStatus, UsageResponse } from '@airlock/contracts';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization } from '../api.js';
import { BarChart, Tile, formatBytes, shortDay, type ChartSeries } from '../charts.js';
import { ErrorMessage, PageTitle, Table } from '../components.js';
import { useSession } from '../session.js';

const RANGES = [7, 14, 30] as const;

/** Every execution status in the order its bars stack, bottom first. */
const STATUS_SERIES: Record<keyof ExecutionsByStatus, ChartSeries> = {
  success: { label: 'success', color: 'bg-emerald-500' },
  failed: { label: 'failed', color: 'bg-red-500' },
  timeout: { label: 'timeout', color: 'bg-amber-500' },
  oom: { label: 'oom', color: 'bg-fuchsia-500' },
  blocked: { label: 'blocked', color: 'bg-slate-600' },
  cancelled: { label: 'cancelled', color: 'bg-slate-300' },
  running: { label: 'running', color: 'bg-sky-400' },
};

const count = (value: number) => value.toLocaleString();
const milliseconds = (value: number) => (value >= 1000 ? `${Number((value / 1000).toPrecision(3))} s` : `${Number(value.toPrecision(3))} ms`);
const seconds = (value: number) => `${Number(value.toPrecision(3))} s`;

/** Who is signed in, where, with which roles, and since when; what the organization used over recent days. */
export function OverviewPage() {
  const { me, organization } = useSession();
  return (
    <>
      <PageTitle description={`Signed in as ${me.actor}${me.instance_role ? `, ${me.instance_role} over every organization` : ''}.`}>Overview</PageTitle>
      <Usage organization={organization} />
      <h2 className="mt-8 mb-2 text-lg font-medium">Organizations</h2>
      <Table
        caption="Your organizations"
        headers={['Organization', 'Slug', 'Your role']}
        rows={me.organizations.map((candidate) => [
          candidate.slug === organization ? <strong key="name">{candidate.name}</strong> : candidate.name,
          <code key="slug">{candidate.slug}</code>,
          candidate.role,
        ])}
        empty="You have no role in any organization yet: ask an owner."
      />
      {me.session && (
        <p className="mt-6 text-sm text-slate-600">
          This session began {new Date(me.session.created_at).toLocaleString()} ({me.session.method === 'oidc' ? 'identity provider' : 'one-time link'}) and
          ends by {new Date(me.session.expires_at).toLocaleString()}.
        </p>
      )}
    </>
  );
}

/** The organization's executions, durations, CPU time, threads and storage over the last 7, 14 or 30 days. */
function Usage(props: { organization: string }) {
  const [days, setDays] = useState<(typeof RANGES)[number]>(14);
  const usage = useQuery({
    queryKey: ['usage', props.organization, days],
    queryFn: () => get<UsageResponse>(inOrganization(`/admin/v1/usage?days=${days}`, props.organization)),
  });
  const report = usage.data;
  return (
    <section aria-labelledby="usage-heading">
      <div className="mb-3 flex flex-wrap items-end justify-between gap-3">
        <div>
          <h2 id="usage-heading" className="text-lg font-medium">
            Usage
          </h2>
          {report && (
            <p className="text-sm text-slate-500">
              {shortDay(report.first_day)} – {shortDay(report.last_day)}, by UTC day
            </p>
          )}
        </div>
        <div role="group" aria-label="Range" className="inline-flex overflow-hidden rounded border border-slate-300 text-sm">
          {RANGES.map((choice) => (
            <button
              key={choice}
              type="button"
              aria-pressed={choice === days}
              onClick={() => setDays(choice)}
              className={`px-3 py-1.5 ${choice === days ? 'bg-slate-900 text-white' : 'bg-white hover:bg-slate-100'}`}
            >
              {choice} days
            </button>
          ))}
        </div>
      </div>
      <ErrorMessage error={usage.error} />
      {usage.isPending && <p className="text-slate-500">Loading usage…</p>}
      {report && <UsageReport report={report} days={days} />}
    </section>
  );
}

function UsageReport(props: { report: UsageResponse; days: number }) {
  const { daily, totals } = props.report;
  const dayLabels = daily.map((day) => day.day);
  const statuses = (Object.keys(STATUS_SERIES) as Array<keyof ExecutionsByStatus>).filter((status) => totals.by_status[status] > 0);
  const succeeded = totals.executions === 0 ? 0 : Math.round((totals.by_status.success / totals.executions) * 100);
  return (
    <>
      <dl aria-label="Totals" className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5">
        <Tile label="Executions" value={count(totals.executions)} detail={totals.executions > 0 ? `${succeeded}% succeeded` : undefined} />
        <Tile
          label="Duration p50"
          value={totals.p50_duration_ms === null ? '—' : milliseconds(totals.p50_duration_ms)}
          detail={totals.p95_duration_ms === null ? undefined : `p95 ${milliseconds(totals.p95_duration_ms)}`}
        />
        <Tile label="CPU time" value={seconds(totals.cpu_seconds)} />
        <Tile label="Active threads" value={count(totals.active_threads)} detail="created or used in the range" />
        <Tile
          label="Storage"
          value={formatBytes(totals.storage_bytes)}
          detail={`${totals.volumes} ${totals.volumes === 1 ? 'volume' : 'volumes'}${totals.unmeasured_volumes > 0 ? `, ${totals.unmeasured_volumes} not measured yet` : ''}`}
        />
      </dl>
      {totals.executions === 0 ? (
        <p className="mt-4 rounded border border-dashed border-slate-300 p-6 text-slate-500">No executions in the last {props.days} days.</p>
      ) : (
        <div className="mt-4 grid gap-4 lg:grid-cols-2">
          <div className="lg:col-span-2">
            <BarChart
              title="Executions per day by status"
              days={dayLabels}
              layout="stacked"
              series={statuses.map((status) => STATUS_SERIES[status])}
              values={daily.map((day) => statuses.map((status) => day.by_status[status]))}
              format={count}
            />
          </div>
          <BarChart
            title="Duration per day, p50 and p95"
            description="Of the executions that finished."
            days={dayLabels}
            layout="grouped"
            series={[
              { label: 'p50', color: 'bg-indigo-600' },
              { label: 'p95', color: 'bg-indigo-300' },
            ]}
            values={daily.map((day) => [day.p50_duration_ms, day.p95_duration_ms])}
            format={milliseconds}
          />
          <BarChart
            title="CPU seconds per day"
            description="As the sandboxes' cgroups accounted it."
            days={dayLabels}
            layout="stacked"
            series={[{ label: 'CPU seconds', color: 'bg-teal-500' }]}
            values={daily.map((day) => [day.cpu_seconds])}
            format={seconds}
          />
        </div>
      )}
    </>
  );
}
