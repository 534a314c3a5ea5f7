import { apiFailure } from './api.js';

/** Fetches a JSON Lines (`application/x-ndjson`) answer and saves it as `filename`; a refusal is an ApiFailure. */
export async function downloadJsonLines(path: string, filename: string): Promise<void> {
  const response = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/x-ndjson' } });
  if (!response.ok) {
    throw await apiFailure(response);
  }
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await response.blob());
  link.download = filename;
  link.click();
  URL.revokeObjectURL(link.href);
}

/** The current time as a file name part: `2026-01-31T120000`. */
export function fileTimestamp(): string {
  return new Date().toISOString().slice(0, 19).replaceAll(':', '');
}
