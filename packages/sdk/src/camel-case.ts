/** `exit_code` -> `exitCode`, at the type level. */
export type CamelCase<Name extends string> = Name extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : Name;

/** A wire object with its own keys in camelCase; nested values keep their shape (see `camelize`). */
export type Camelize<Wire> = { [Key in keyof Wire as Key extends string ? CamelCase<Key> : Key]: Wire[Key] };

/** `exit_code` -> `exitCode`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/**
 * The object's own keys in camelCase. Shallow on purpose: values such as `metadata` are maps whose keys belong to the
 * caller; nested wire objects are converted where the SDK reads them.
 */
export function camelize<Wire extends object>(wire: Wire): Camelize<Wire> {
  const converted: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(wire)) converted[camelCase(name)] = value;
  return converted as Camelize<Wire>;
}
