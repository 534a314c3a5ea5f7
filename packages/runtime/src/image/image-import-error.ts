/**
 * An import that cannot complete: the source cannot be read or pulled, the image is refused (another architecture,
 * no interpreter), or a tool failed. The message says what to change.
 */
export class ImageImportError extends Error {
  override readonly name = 'ImageImportError';
}
