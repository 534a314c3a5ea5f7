/**
 * PostgreSQL text and jsonb cannot hold U+0000. Output of untrusted code may contain it, so it is stored as
 * U+FFFD (the replacement character) instead of failing the write.
 */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/** A string-to-string map as a jsonb parameter, with U+0000 replaced in names and values. */
export function stringMapParameter(map: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(map).map(([name, value]) => [withoutNul(name), withoutNul(value)])));
}

/** A list of strings as a jsonb parameter, with U+0000 replaced. */
export function stringListParameter(list: readonly string[]): string {
  return JSON.stringify(list.map(withoutNul));
}
