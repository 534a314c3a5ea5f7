import type { ExecutionEvent } from '@airlock/contracts';

/** Reads newline-delimited JSON events from a response body as they arrive. */
export async function* executionEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ExecutionEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      if (line) yield JSON.parse(line) as ExecutionEvent;
    }
  }
}
