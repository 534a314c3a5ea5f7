import { z } from 'zod';
import { THREAD_ID_PATTERN } from './execute.js';

export const ThreadId = z.string().regex(THREAD_ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,128}$');

/** `POST /v1/threads/{thread_id}/fork`: a new thread starting from this one's home. */
export const ThreadForkRequest = z.strictObject({ thread_id: ThreadId.describe('the new thread') });
export type ThreadForkRequest = z.infer<typeof ThreadForkRequest>;

export const ThreadForkResponse = z.object({ thread_id: z.string(), forked_from: z.string() }).meta({ id: 'ThreadForkResponse' });
export type ThreadForkResponse = z.infer<typeof ThreadForkResponse>;
