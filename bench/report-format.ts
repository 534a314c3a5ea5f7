import { BENCH_COMMAND, BENCH_OPTIONS } from './options.js';
import type { Report, ReportRow } from './report.js';

const HEADER = ['metric', 'value', 'target (docs/architecture.md)', 'met?'];

function cells(row: ReportRow): string[] {
  return [row.metric, row.value, row.target, row.met === undefined ? '—' : row.met ? 'yes' : 'no'];
}

function factRows(report: Report): Array<[string, string]> {
  const { facts, image } = report.results;
  return [
    ['date', facts.date],
    ['processors', `${facts.processors} (${facts.cpuModel})`],
    ['memory', `${facts.memoryGiB} GiB`],
    ['kernel', facts.kernel],
    ['load average at start', `${facts.loadAverage.toFixed(2)} (1 min)`],
    ['cgroups', facts.cgroupVersion],
    ['node (server)', facts.nodeVersion],
    ['bubblewrap', facts.bubblewrapVersion],
    ['image', `default-${image.version}: ${Object.entries(image.languageVersions).map(([language, version]) => `${language} ${version}`).join('; ')}`],
  ];
}

/** A plain-text rendering for the terminal: one padded table per section. */
export function renderText(report: Report): string {
  const lines = factRows(report).map(([name, value]) => `${name.padEnd(22)} ${value}`);
  for (const section of report.sections) {
    const table = [HEADER, ...section.rows.map(cells)];
    const widths = HEADER.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
    lines.push('', section.title);
    for (const row of table) lines.push(`  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}`);
  }
  lines.push('', report.summary);
  return `${lines.join('\n')}\n`;
}

function markdownRow(values: string[]): string {
  return `| ${values.map((value) => value.replaceAll('|', '\\|')).join(' | ')} |`;
}

/** The whole of docs/benchmarks.md. */
export function renderMarkdown(report: Report, standalone: string[] = []): string {
  const lines = [
    '# Benchmarks',
    '',
    'Measured in one run by `bench/`, on a checkout after `npm ci && npm run build` (the benchmark drives the built',
    'packages in `packages/*/dist`), as root:',
    '',
    '```sh',
    BENCH_COMMAND,
    '```',
    '',
    'Options, each a flag or an environment variable:',
    '',
    ...Object.entries(BENCH_OPTIONS).map(
      ([name, option]) => `- \`--${name}\` or \`${option.variable}\`: ${option.description} (default ${option.fallback}).`,
    ),
    '',
    `This run, \`${report.results.command}\`, took ${Math.round(report.results.runSeconds)} s. Benchmarks are not tests:`,
    'nothing here fails a build.',
    'Targets are the performance targets of docs/architecture.md; "(reference)" marks a figure quoted for comparison.',
    '',
    '## Machine',
    '',
    markdownRow(['fact', 'value']),
    markdownRow(['---', '---']),
    ...factRows(report).map((row) => markdownRow(row)),
  ];
  for (const section of report.sections) {
    lines.push('', `## ${section.title}`, '', markdownRow(HEADER), markdownRow(HEADER.map(() => '---')));
    lines.push(...section.rows.map((row) => markdownRow(cells(row))));
    if (section.notes.length > 0) lines.push('', ...section.notes.map((note) => `- ${note}`));
  }
  for (const section of standalone) lines.push('', section);
  lines.push('', '## What the numbers mean', '', report.summary);
  return `${lines.join('\n')}\n`;
}

/**
 * The sections of an earlier report that this run does not write: those of the benchmarks run on their own (each
 * names its command), kept as they are so a full run does not drop their figures.
 */
export function standaloneSections(earlier: string, report: Report): string[] {
  // A section is known by its number ("5." whatever its options made of the rest of the title).
  const key = (title: string) => /^\d+\./.exec(title)?.[0] ?? title;
  const written = new Set(['Machine', 'What the numbers mean', ...report.sections.map((section) => key(section.title))]);
  const sections = earlier.split(/^(?=## )/m).slice(1);
  return sections
    .filter((section) => !written.has(key(section.slice(3, section.indexOf('\n')).trim())))
    .map((section) => section.trimEnd());
}
