import { z } from 'zod';

/** A name the database can look up or store: 1-128 characters, none of them NUL. */
export const Text = z
  .string()
  .min(1)
  .max(128)
  // eslint-disable-next-line no-control-regex -- NUL is the character refused; a pattern shows it in the document
  .regex(/^[^\u0000]*$/, 'must not contain NUL');
