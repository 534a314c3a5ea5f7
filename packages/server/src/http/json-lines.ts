/**
 * A JSON Lines (`application/x-ndjson`) answer streaming `items`. The first item is read before answering, so an
 * error in finding what to export (a 404) is an HTTP error, not a cut stream.
 */
export async function jsonLinesResponse(items: AsyncGenerator<unknown>, headers: Record<string, string> = {}): Promise<Response> {
  const encoder = new TextEncoder();
  let pending: IteratorResult<unknown> | undefined = await items.next();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = pending ?? (await items.next());
      pending = undefined;
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
    },
    async cancel() {
      await items.return(undefined);
    },
  });
  return new Response(body, { headers: { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', ...headers } });
}

/** The items of `items`, each passed through `map`. */
export async function* mapped<T, U>(items: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of items) yield map(item);
}
