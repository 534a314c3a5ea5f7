import type { Database } from '@airlock/db';

/** An organization's use of Airlock over recent days, for the console's overview. */
export class UsageService {
  constructor(readonly options: { database: Database }) {}
}
