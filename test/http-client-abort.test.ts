import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { until } from './support/wait.js';

const logged: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
const record = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void logged.push({ level, message, fields });

let airlock: AirlockFixture;
beforeAll(async () => {
  airlock = await startAirlock({ logger: { info: record('info'), warn: record('warn'), error: record('error') } });
});
afterAll(async () => {
  await airlock?.close();
});

it('a client that hangs up before its body arrives is logged at info with the request id, not as an error', async () => {
  const url = new URL(airlock.url);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    [
      'POST /v1/sandbox/execute HTTP/1.1',
      `Host: ${url.host}`,
      `Authorization: Bearer ${airlock.apiKey}`,
      'Content-Type: application/json',
      'Content-Length: 1000',
      'X-Request-Id: req-hung-up',
      '',
      '{"code": "pri',
    ].join('\r\n'),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
  expect(await until(() => logged.some((entry) => entry.fields.requestId === 'req-hung-up'), 5_000), JSON.stringify(logged)).toBe(true);
  expect(logged.filter((entry) => entry.fields.requestId === 'req-hung-up')).toEqual([
    { level: 'info', message: 'client closed the request before its body arrived', fields: { requestId: 'req-hung-up', path: '/v1/sandbox/execute' } },
  ]);
  expect(logged.filter((entry) => entry.level === 'error')).toEqual([]);
});
