import type { OpenResponse } from './transport.js';

/**
 * The answer with a body that releases the attempt (its listener on the caller's signal) once read to the end or
 * cancelled. The caller's signal still aborts the reading until then.
 */
export function releasedWhenRead({ response, attempt }: OpenResponse): Response {
  const source = response.body;
  if (source === null) {
    attempt.dispose();
    return response;
  }
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          attempt.dispose();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      } catch (error) {
        attempt.dispose();
        controller.error(attempt.failure(error, 'reading the answer'));
      }
    },
    async cancel(reason) {
      attempt.dispose();
      await reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
