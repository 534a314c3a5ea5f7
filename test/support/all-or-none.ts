/**
 * Waits for several things to start at once. When one fails, the ones that started are disposed of and its error is
 * thrown, so a fixture that fails half-way leaves no server, process or directory behind.
 */
export async function allOrNone<T extends readonly unknown[]>(
  starts: readonly [...{ [K in keyof T]: Promise<T[K]> }],
  dispose: (started: T[number]) => Promise<unknown>,
): Promise<T> {
  const outcomes = await Promise.allSettled(starts);
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (!failure) return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as unknown as T;
  await Promise.all(outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [dispose(outcome.value as T[number]).catch(() => undefined)] : [])));
  throw failure.reason;
}
