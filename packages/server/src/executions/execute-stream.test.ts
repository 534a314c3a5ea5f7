import type { ExecuteResponse } from '@airlock/contracts';
import { describe, expect, it } from 'vitest';
import { ExecutionLog } from './execution-log.js';
import { recordedEvents } from './execute-stream.js';

const result: ExecuteResponse = {
  success: true,
  stdout: 'a\nb\n',
  stderr: 'warn\n',
  exit_code: 0,
  error: null,
  error_message: null,
  trace_id: 'trc_0123456789abcdefghjk',
  status: 'success',
  stdout_truncated: false,
  stderr_truncated: false,
  duration_ms: 5,
  overhead_ms: 0.4,
};

async function lines(response: Response): Promise<Array<{ type: string; seq: number }>> {
  return (await response.text()).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

describe('a replay built from the record', () => {
  it('numbers the result event as it was numbered live', async () => {
    const all = await lines(recordedEvents(result, 9, -1));
    expect(all.map(({ type, seq }) => [type, seq])).toEqual([['status', 0], ['output', 1], ['output', 2], ['result', 9]]);
  });

  it('resumed after a seq the reader saw, answers just the result, which holds all the output', async () => {
    const resumed = await lines(recordedEvents(result, 9, 4));
    expect(resumed).toMatchObject([{ type: 'result', seq: 9, result: { stdout: 'a\nb\n', stderr: 'warn\n' } }]);
    expect(await lines(recordedEvents(result, 9, 9))).toEqual([]);
  });

  it('without a recorded seq, puts the result after the rebuilt events', async () => {
    expect((await lines(recordedEvents(result, null, -1))).map(({ seq }) => seq)).toEqual([0, 1, 2, 3]);
  });
});

describe('ExecutionLog', () => {
  it('tells the seq its result event will have once the output has ended', () => {
    const log = new ExecutionLog('org_1', result.trace_id, { metadata: {}, createdAt: new Date(), networkMode: 'blocked', networkAllow: null });
    log.output('stdout', Buffer.from('a\n'));
    log.output('stdout', Buffer.from([0xe2, 0x82]));
    const resultSeq = log.endOutput();
    log.finish(result);
    const events: Array<{ type: string; seq: number }> = [];
    log.follow(-1, (event) => event && events.push(event));
    expect(events.map(({ type, seq }) => [type, seq])).toEqual([['status', 0], ['output', 1], ['output', 2], ['result', 3]]);
    expect(resultSeq).toBe(3);
  });
});
