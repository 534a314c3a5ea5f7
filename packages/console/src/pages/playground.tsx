import type { ExecuteResponse } from '@airlock/contracts';
import { useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { apiFailure } from '../api.js';
import { executionEvents } from '../execution-events.js';
import { Button, Choice, ErrorMessage, Field, PageTitle, inputClass } from '../components.js';

const LANGUAGES = ['python', 'node', 'bash'];
const EXAMPLES: Record<string, string> = {
  python: 'import sys, time\nfor i in range(3):\n    print(f"line {i}", flush=True)\n    time.sleep(0.2)\nprint(sys.version)',
  node: 'for (let i = 0; i < 3; i++) {\n  console.log(`line ${i}`);\n  await new Promise((done) => setTimeout(done, 200));\n}\nconsole.log(process.version);',
  bash: 'for i in 0 1 2; do echo "line $i"; sleep 0.2; done\nuname -sr',
};

interface Chunk {
  stream: 'stdout' | 'stderr';
  data: string;
}

/**
 * Runs code through the public API with an API key, as an agent would, and shows its output as it streams. The key
 * is pasted here and held by this page only while it is open: it is never stored by the browser.
 */
export function PlaygroundPage() {
  const [key, setKey] = useState('');
  const [language, setLanguage] = useState('python');
  const [code, setCode] = useState(EXAMPLES.python ?? '');
  const [threadId, setThreadId] = useState('');
  const [running, setRunning] = useState(false);
  const [traceId, setTraceId] = useState('');
  const [chunks, setChunks] = useState<Chunk[]>([]);
  const [result, setResult] = useState<ExecuteResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);

  const chooseLanguage = (next: string) => {
    if (code === EXAMPLES[language]) setCode(EXAMPLES[next] ?? '');
    setLanguage(next);
  };

  const run = async (event: FormEvent) => {
    event.preventDefault();
    abort.current = new AbortController();
    setRunning(true);
    setTraceId('');
    setChunks([]);
    setResult(null);
    setError(null);
    try {
      const response = await fetch('/v1/sandbox/execute', {
        method: 'POST',
        credentials: 'omit',
        signal: abort.current.signal,
        headers: { authorization: `Bearer ${key.trim()}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify({ code, language, ...(threadId && { thread_id: threadId }) }),
      });
      if (!response.ok || !response.body) {
        throw await apiFailure(response);
      }
      for await (const next of executionEvents(response.body)) {
        if (next.type === 'status') setTraceId(next.trace_id);
        else if (next.type === 'output') setChunks((previous) => [...previous, { stream: next.stream, data: next.data }]);
        else if (next.type === 'result') setResult(next.result);
      }
    } catch (failure) {
      if (!(failure instanceof DOMException && failure.name === 'AbortError')) setError(failure);
    } finally {
      setRunning(false);
    }
  };

  return (
    <>
      <PageTitle description="Run code with an API key, the way an agent calls Airlock, and watch its output stream. Paste the key: it stays in this page only.">
        Playground
      </PageTitle>
      <form onSubmit={(event) => void run(event)} className="flex flex-col gap-3 rounded border border-slate-200 bg-white p-4">
        <div className="flex flex-wrap gap-3">
          <Field label="API key" hint="Shown once when the key was made; it runs in that key's sandbox config.">
            <input className={`${inputClass} w-80`} type="password" autoComplete="off" value={key} onChange={(event) => setKey(event.target.value)} required />
          </Field>
          <Field label="Language">
            <Choice value={language} onChange={chooseLanguage} choices={LANGUAGES} />
          </Field>
          <Field label="Thread" hint="Optional: keeps the home directory between calls.">
            <input className={inputClass} value={threadId} onChange={(event) => setThreadId(event.target.value)} />
          </Field>
        </div>
        <Field label="Code">
          <textarea className={`${inputClass} h-48 font-mono text-sm`} spellCheck={false} value={code} onChange={(event) => setCode(event.target.value)} required />
        </Field>
        <div className="flex gap-2">
          <Button tone="primary" type="submit" disabled={running}>
            {running ? 'Running…' : 'Run'}
          </Button>
          {running && <Button onClick={() => abort.current?.abort()}>Stop watching</Button>}
        </div>
      </form>
      <ErrorMessage error={error} />
      {(traceId || chunks.length > 0) && (
        <section aria-label="Output" className="mt-4">
          <pre data-testid="playground-output" aria-live="polite" className="max-h-96 overflow-auto rounded bg-slate-900 p-3 text-sm text-slate-100">
            {chunks.map((chunk, index) => (
              <span key={index} className={chunk.stream === 'stderr' ? 'text-red-300' : undefined}>
                {chunk.data}
              </span>
            ))}
          </pre>
        </section>
      )}
      {result && (
        <dl aria-label="Result" className="mt-4 grid grid-cols-2 gap-x-6 gap-y-1 text-sm sm:grid-cols-4">
          <dt className="text-slate-500">Status</dt>
          <dd data-testid="playground-status">{result.status}</dd>
          <dt className="text-slate-500">Exit code</dt>
          <dd>{result.exit_code}</dd>
          <dt className="text-slate-500">Duration</dt>
          <dd>{result.duration_ms} ms</dd>
          <dt className="text-slate-500">Overhead</dt>
          <dd>{result.overhead_ms.toFixed(1)} ms</dd>
          <dt className="text-slate-500">Execution</dt>
          <dd className="col-span-3">
            <Link data-testid="playground-trace" className="underline" to={`/executions?trace=${result.trace_id}`}>
              {result.trace_id}
            </Link>
          </dd>
          {result.error_message && (
            <>
              <dt className="text-slate-500">Error</dt>
              <dd className="col-span-3">{result.error_message}</dd>
            </>
          )}
        </dl>
      )}
    </>
  );
}
