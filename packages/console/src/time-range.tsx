import { useState } from 'react';
import { Choice, Field, inputClass } from './components.js';

const RANGES: Record<string, number | null> = { 'last 24 hours': 1, 'last 7 days': 7, 'last 30 days': 30, 'last 90 days': 90, 'all time': null, custom: null };

/** `from` and `to` of a range: the N days before it was chosen, or what was typed (local time, as the inputs show it). */
function rangeBounds(range: string, chosenAt: number, from: string, to: string): { from?: string; to?: string } {
  if (range === 'custom') return { ...(from && { from: new Date(from).toISOString() }), ...(to && { to: new Date(to).toISOString() }) };
  const days = RANGES[range];
  return days ? { from: new Date(chosenAt - days * 86_400_000).toISOString() } : {};
}

/**
 * A time filter: a choice of recent days (counted from when it was chosen, so a query's key stays put) or a custom
 * from/to. `bounds` are the `from` and `to` query parameters; `fields` the controls.
 */
export function useTimeRange(initial = 'last 7 days') {
  const [range, setRange] = useState(initial);
  const [chosenAt, setChosenAt] = useState(() => Date.now());
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const choose = (next: string) => {
    setRange(next);
    setChosenAt(Date.now());
  };
  const fields = (
    <>
      <Field label="Time">
        <Choice value={range} onChange={choose} choices={Object.keys(RANGES)} />
      </Field>
      {range === 'custom' && (
        <>
          <Field label="From">
            <input className={inputClass} type="datetime-local" value={from} onChange={(event) => setFrom(event.target.value)} />
          </Field>
          <Field label="To">
            <input className={inputClass} type="datetime-local" value={to} onChange={(event) => setTo(event.target.value)} />
          </Field>
        </>
      )}
    </>
  );
  return { bounds: rangeBounds(range, chosenAt, from, to), fields };
}
