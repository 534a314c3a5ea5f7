import { cloneElement, useId, type ButtonHTMLAttributes, type FormEvent, type ReactElement, type ReactNode } from 'react';

export function PageTitle(props: { children: ReactNode; description?: string }) {
  return (
    <div className="mb-6">
      <h1 className="text-2xl font-semibold">{props.children}</h1>
      {props.description && <p className="mt-1 text-slate-600">{props.description}</p>}
    </div>
  );
}

/** An API refusal or failure, as its sentence. */
export function ErrorMessage(props: { error: unknown }) {
  if (!props.error) return null;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <p role="alert" className="my-3 rounded border border-red-200 bg-red-50 px-3 py-2 text-red-800">
      {message}
    </p>
  );
}

export function Button(props: ButtonHTMLAttributes<HTMLButtonElement> & { tone?: 'primary' | 'danger' | 'plain' }) {
  const { tone = 'plain', className = '', ...rest } = props;
  const colors = {
    primary: 'bg-slate-900 text-white hover:bg-slate-700 disabled:bg-slate-400',
    danger: 'border border-red-300 text-red-800 hover:bg-red-50',
    plain: 'border border-slate-300 hover:bg-slate-100',
  }[tone];
  return <button type="button" className={`rounded px-3 py-1.5 text-sm ${colors} ${className}`} {...rest} />;
}

/** A table with a header row; `empty` when it has no rows. */
export function Table(props: { caption: string; headers: string[]; rows: ReactNode[][]; empty: string }) {
  if (props.rows.length === 0) return <p className="rounded border border-dashed border-slate-300 p-6 text-slate-500">{props.empty}</p>;
  return (
    // Focusable, so that a table wider than the screen scrolls with the keyboard too.
    <div className="overflow-x-auto rounded border border-slate-200 bg-white" tabIndex={0} role="region" aria-label={props.caption}>
      <table className="w-full text-left text-sm">
        <caption className="sr-only">{props.caption}</caption>
        <thead className="bg-slate-100">
          <tr>
            {props.headers.map((header) => (
              <th key={header} scope="col" className="px-3 py-2 font-medium">
                {header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, index) => (
            <tr key={index} className="border-t border-slate-100">
              {row.map((cell, column) => (
                <td key={column} className="px-3 py-2 align-top">
                  {cell}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A labelled control: the label names it (and only it), the hint describes it. */
export function Field(props: { label: string; children: ReactElement<{ id?: string; 'aria-describedby'?: string }>; hint?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div className="flex flex-col gap-1 text-sm">
      <label htmlFor={id} className="font-medium">
        {props.label}
      </label>
      {cloneElement(props.children, { id, ...(props.hint && { 'aria-describedby': hintId }) })}
      {props.hint && (
        <span id={hintId} className="text-slate-500">
          {props.hint}
        </span>
      )}
    </div>
  );
}

export const inputClass = 'rounded border border-slate-300 px-2 py-1.5';

/** A one-line form of fields that creates something, with its submit button and the API's refusal under it. */
export function CreateForm(props: { submitLabel: string; pending: boolean; error: unknown; onSubmit: () => void; children: ReactNode }) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    props.onSubmit();
  };
  return (
    <form onSubmit={submit} className="mt-6 flex flex-wrap items-end gap-3 rounded border border-slate-200 bg-white p-4">
      {props.children}
      <Button tone="primary" type="submit" disabled={props.pending}>
        {props.submitLabel}
      </Button>
      <ErrorMessage error={props.error} />
    </form>
  );
}

/** The JSON object a settings box holds, or an error naming the field as the API would. */
export function parseSettings(text: string, example: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new Error(`settings: must be a JSON object, such as ${example}`);
}

/** A select of plain choices; `anyLabel` names the empty choice ('') when there is one. */
export function Choice(props: {
  value: string;
  onChange: (value: string) => void;
  choices: readonly string[];
  anyLabel?: string;
  id?: string;
  'aria-describedby'?: string;
}) {
  const { value, onChange, choices, anyLabel, ...rest } = props;
  return (
    <select className={inputClass} value={value} onChange={(event) => onChange(event.target.value)} {...rest}>
      {choices.map((choice) => (
        <option key={choice} value={choice}>
          {choice === '' ? (anyLabel ?? 'any') : choice}
        </option>
      ))}
    </select>
  );
}
