import { useId } from 'react';

/** One measured quantity of a chart: its name, and the Tailwind background class its bars are drawn in. */
export interface ChartSeries {
  label: string;
  color: string;
}

/** A bar chart over days, with a legend and the same numbers as a table for screen readers. */
export interface BarChartProps {
  title: string;
  /** A sentence under the title: what is counted. */
  description?: string;
  /** The x axis: 'YYYY-MM-DD' days. */
  days: string[];
  series: ChartSeries[];
  /** `values[day][series]`; null draws no bar and reads as "—". */
  values: Array<Array<number | null>>;
  /** Stacked: a day's series add up (one bar). Grouped: a bar per series, side by side. */
  layout: 'stacked' | 'grouped';
  format: (value: number) => string;
}

/** '2026-05-20' as 'May 20', in UTC, so the label is the day the server counted. */
export function shortDay(day: string): string {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** Bytes in binary units: 0 B, 512 B, 2.0 KiB, 5.6 GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The top of the y axis: the largest bar rounded up to 1, 2 or 5 times a power of ten. */
function axisTop(largest: number): number {
  if (largest <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(largest));
  return ([1, 2, 5, 10].find((step) => step * power >= largest) ?? 10) * power;
}

/** Which day labels fit: every one for a week, fewer as the range grows, the last always. */
function labelled(index: number, count: number): boolean {
  const every = Math.ceil(count / 7);
  return (count - 1 - index) % every === 0;
}

/**
 * A bar per day drawn with CSS (no chart library). The picture is one image named by the title; its numbers are in a
 * visually hidden table, and each bar carries them as a tooltip.
 */
export function BarChart(props: BarChartProps) {
  const titleId = useId();
  const { days, series, values, format } = props;
  const heights = values.map((day) => (props.layout === 'stacked' ? day.reduce<number>((sum, value) => sum + (value ?? 0), 0) : Math.max(0, ...day.map((value) => value ?? 0))));
  const top = axisTop(Math.max(0, ...heights));
  const percent = (value: number | null) => `${((value ?? 0) / top) * 100}%`;
  return (
    <figure aria-labelledby={titleId} className="min-w-0 rounded border border-slate-200 bg-white p-4">
      <figcaption className="mb-3">
        <span id={titleId} className="font-medium">
          {props.title}
        </span>
        {props.description && <span className="block text-sm text-slate-500">{props.description}</span>}
      </figcaption>
      {series.length > 1 && (
        <ul className="mb-3 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600" aria-hidden="true">
          {series.map((entry) => (
            <li key={entry.label} className="flex items-center gap-1.5">
              <span className={`inline-block h-2.5 w-2.5 rounded-sm ${entry.color}`} />
              {entry.label}
            </li>
          ))}
        </ul>
      )}
      <div role="img" aria-label={`${props.title}: bar chart; its values are in the table "${props.title}"`} className="flex gap-2">
        <div className="flex h-40 w-12 shrink-0 flex-col justify-between text-right text-xs text-slate-500 tabular-nums">
          <span>{format(top)}</span>
          <span>{format(0)}</span>
        </div>
        <div className="min-w-0 flex-1">
          <div className="flex h-40 items-end gap-px border-b border-l border-slate-300 sm:gap-1">
            {days.map((day, index) => (
              <div
                key={day}
                title={`${shortDay(day)}: ${series.map((entry, column) => `${entry.label} ${readable(values[index]?.[column], format)}`).join(', ')}`}
                className={`flex h-full min-w-0 flex-1 items-end ${props.layout === 'stacked' ? 'flex-col-reverse justify-start' : 'gap-px'}`}
              >
                {series.map((entry, column) => (
                  <div
                    key={entry.label}
                    className={`${entry.color} ${props.layout === 'stacked' ? 'w-full' : 'min-w-0 flex-1'}`}
                    style={{ height: percent(values[index]?.[column] ?? null) }}
                  />
                ))}
              </div>
            ))}
          </div>
          <div className="mt-1 flex gap-px text-[10px] text-slate-500 sm:gap-1 sm:text-xs">
            {days.map((day, index) => (
              <span key={day} className="min-w-0 flex-1 overflow-visible text-center whitespace-nowrap">
                {labelled(index, days.length) ? shortDay(day) : ''}
              </span>
            ))}
          </div>
        </div>
      </div>
      <table className="sr-only">
        <caption>{props.title}</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {series.map((entry) => (
              <th key={entry.label} scope="col">
                {entry.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {days.map((day, index) => (
            <tr key={day}>
              <th scope="row">{day}</th>
              {series.map((entry, column) => (
                <td key={entry.label}>{readable(values[index]?.[column], format)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function readable(value: number | null | undefined, format: (value: number) => string): string {
  return value === null || value === undefined ? '—' : format(value);
}

/** A headline number with its name. */
export function Tile(props: { label: string; value: string; detail?: string }) {
  return (
    <div className="rounded border border-slate-200 bg-white p-4">
      <dt className="text-sm text-slate-500">{props.label}</dt>
      <dd className="mt-1 text-2xl font-semibold tabular-nums">{props.value}</dd>
      {props.detail && <dd className="mt-0.5 text-xs text-slate-500">{props.detail}</dd>}
    </div>
  );
}
