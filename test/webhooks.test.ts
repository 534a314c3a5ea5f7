import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookDeliveryResponse } from '../packages/contracts/src/index.js';
import { startAirlock, testApiKey, testSandboxUid, type AirlockFixture } from './support/airlock-fixture.js';
import { startServeProcess, waitForExit } from './support/cli-process.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from './support/webhook-receiver.js';

const DEVELOPMENT = {
  AIRLOCK_WEBHOOK_ALLOW_LOOPBACK: 'true',
  AIRLOCK_WEBHOOK_RETRY_SECONDS: '0.2',
  AIRLOCK_WEBHOOK_MAX_ATTEMPTS: '3',
};

let airlock: AirlockFixture;
let receiver: WebhookReceiver;
let secret: string;
beforeAll(async () => {
  airlock = await startAirlock({ environment: DEVELOPMENT });
  secret = await webhookSecret(airlock);
});
afterAll(async () => {
  await airlock?.close();
});
afterEach(async () => {
  await receiver?.close();
});

async function webhookSecret(server: AirlockFixture): Promise<string> {
  const response = await server.request<{ secret: string }>('/admin/v1/sandboxes/default/webhook-secret', { apiKey: server.adminToken });
  expect(response.status).toBe(200);
  return response.body.secret;
}

function executeAsync(server: AirlockFixture, body: Record<string, unknown>) {
  return server.request<{ trace_id: string; status: string }>('/v1/sandbox/execute', {
    method: 'POST',
    headers: { prefer: 'respond-async' },
    json: body,
  });
}

async function delivery(server: AirlockFixture, traceId: string, until: (delivery: WebhookDeliveryResponse) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const response = await server.request<WebhookDeliveryResponse>(`/v1/executions/${traceId}/webhook`);
    expect(response.status).toBe(200);
    if (until(response.body)) return response.body;
    if (Date.now() > deadline) throw new Error(`delivery never reached the state: ${JSON.stringify(response.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function verified(webhook: ReceivedWebhook, signingSecret: string): Record<string, unknown> {
  const headers = Object.fromEntries(Object.entries(webhook.headers).map(([name, value]) => [name, String(value)]));
  return new Webhook(signingSecret).verify(webhook.body, headers) as Record<string, unknown>;
}

describe('webhook delivery', () => {
  it('answers 202 at once and POSTs the signed result with its metadata when the code ends', async () => {
    receiver = await startWebhookReceiver();
    const started = performance.now();
    const accepted = await executeAsync(airlock, {
      code: 'import time; time.sleep(1); print("done")',
      webhook_url: receiver.url,
      metadata: { job: '7' },
    });
    expect(accepted.status).toBe(202);
    expect(performance.now() - started).toBeLessThan(900);
    expect(accepted.body).toEqual({ trace_id: expect.stringMatching(/^trc_[0-9a-z]{20}$/), status: 'running' });
    const traceId = accepted.body.trace_id;
    expect((await airlock.request(`/v1/executions/${traceId}`)).body).toMatchObject({ status: 'running', delivery_mode: 'webhook' });

    const [webhook] = (await receiver.waitFor(1)) as [ReceivedWebhook];
    expect(webhook.headers['content-type']).toBe('application/json');
    expect(webhook.headers['webhook-id']).toBe(traceId);
    expect(verified(webhook, secret)).toMatchObject({
      trace_id: traceId,
      success: true,
      status: 'success',
      stdout: 'done\n',
      exit_code: 0,
      metadata: { job: '7' },
    });
    const wrongSecret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    expect(() => verified(webhook, wrongSecret)).toThrow();

    const record = await delivery(airlock, traceId, (state) => state.status === 'delivered');
    expect(record).toMatchObject({ url: receiver.url, status: 'delivered', next_attempt_at: null });
    expect(record.attempts).toEqual([
      { attempt: 1, attempted_at: expect.any(String), status_code: 204, error: null, duration_ms: expect.any(Number) },
    ]);
    expect((await airlock.request(`/v1/executions/${traceId}`)).body).toMatchObject({
      status: 'success',
      delivery_mode: 'webhook',
      webhook_url: receiver.url,
      webhook_delivery_status: 'delivered',
    });
  });

  it('retries with backoff a receiver that fails twice, with the same id and a valid signature each time', async () => {
    receiver = await startWebhookReceiver();
    receiver.respond = (_request, response) =>
      response.writeHead(receiver.received.length <= 2 ? 500 : 200, { 'content-type': 'text/plain' }).end('ok');
    const accepted = await executeAsync(airlock, { code: 'exit 3', language: 'bash', webhook_url: receiver.url });
    expect(accepted.status).toBe(202);
    const webhooks = await receiver.waitFor(3);
    for (const webhook of webhooks) {
      expect(webhook.headers['webhook-id']).toBe(accepted.body.trace_id);
      expect(verified(webhook, secret)).toMatchObject({ status: 'failed', exit_code: 3, success: false });
    }
    const record = await delivery(airlock, accepted.body.trace_id, (state) => state.status === 'delivered');
    expect(record.attempts.map((attempt) => attempt.status_code)).toEqual([500, 500, 200]);
    expect(record.attempts[0]?.error).toBe('receiver answered 500');
    const times = record.attempts.map((attempt) => Date.parse(attempt.attempted_at));
    // Backoff: about 0.2 s, then about 0.4 s (±20%).
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(150);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(300);
    const metrics = (await airlock.request<string>('/metrics', { apiKey: null })).body;
    expect(metrics).toMatch(/^airlock_webhook_attempts_total\{outcome="retry"\} [2-9]\d*$/m);
    expect(metrics).toMatch(/^airlock_webhook_attempts_total\{outcome="delivered"\} [1-9]\d*$/m);
  });

  it('does not follow a redirect and gives up after the last attempt', async () => {
    receiver = await startWebhookReceiver();
    const elsewhere = await startWebhookReceiver();
    try {
      receiver.respond = (_request, response) => response.writeHead(307, { location: elsewhere.url }).end();
      const accepted = await executeAsync(airlock, { code: 'print(1)', webhook_url: receiver.url });
      const record = await delivery(airlock, accepted.body.trace_id, (state) => state.status === 'failed');
      expect(record.attempts).toHaveLength(3);
      expect(record.attempts[0]).toMatchObject({ status_code: 307, error: `receiver answered 307 (redirect to ${elsewhere.url}, not followed)` });
      expect(receiver.received).toHaveLength(3);
      expect(elsewhere.received).toHaveLength(0);
      expect((await airlock.request(`/v1/executions/${accepted.body.trace_id}`)).body).toMatchObject({ webhook_delivery_status: 'failed' });
    } finally {
      await elsewhere.close();
    }
  });

  it('a receiver that is slow to answer does not hold up the deliveries to others', async () => {
    receiver = await startWebhookReceiver();
    const fast = await startWebhookReceiver();
    try {
      receiver.respond = (_request, response) => void setTimeout(() => response.writeHead(204).end(), 4000);
      await executeAsync(airlock, { code: 'print("slow")', webhook_url: receiver.url });
      await receiver.waitFor(1);
      const started = performance.now();
      await executeAsync(airlock, { code: 'print("fast")', webhook_url: fast.url });
      const [webhook] = (await fast.waitFor(1)) as [ReceivedWebhook];
      expect(verified(webhook, secret)).toMatchObject({ stdout: 'fast\n' });
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      await fast.close();
    }
  });

  it('runs without a webhook_url too: 202, then the result through the executions API', async () => {
    const accepted = await executeAsync(airlock, { code: 'print(6 * 7)' });
    expect(accepted.status).toBe(202);
    const deadline = Date.now() + 20_000;
    let record;
    do {
      record = (await airlock.request(`/v1/executions/${accepted.body.trace_id}`)).body;
    } while (record.status === 'running' && Date.now() < deadline);
    expect(record).toMatchObject({ status: 'success', stdout: '42\n', delivery_mode: 'webhook', webhook_url: null, webhook_delivery_status: null });
    expect((await airlock.request(`/v1/executions/${accepted.body.trace_id}/webhook`)).status).toBe(404);
  });

  it('refuses private, link-local, metadata, mapped and NAT64 destinations at acceptance, even in development mode', async () => {
    const refused = [
      'https://10.0.0.1/hook',
      'https://192.168.1.10/hook',
      'https://172.16.0.1/hook',
      'https://169.254.169.254/latest/meta-data/',
      'https://100.64.0.1/hook',
      'https://0.0.0.0/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[::ffff:a00:1]/hook',
      'https://[64:ff9b::a00:1]/hook',
      'https://[fd00:ec2::254]/hook',
      'https://[fe80::1]/hook',
      'https://[2002:a00:1::]/hook',
      'https://224.0.0.1/hook',
      'http://93.184.215.14/hook',
      'ftp://93.184.215.14/hook',
      'https://user:password@93.184.215.14/hook',
      `https://93.184.215.14/${'a'.repeat(2048)}`,
    ];
    for (const url of refused) {
      const response = await executeAsync(airlock, { code: 'print(1)', webhook_url: url });
      expect({ url, status: response.status, error: response.body }).toMatchObject({
        url,
        status: 400,
        error: { error: 'validation_error', message: expect.stringMatching(/^webhook_url: /) },
      });
    }
  });

  it('refuses a webhook_url without Prefer: respond-async', async () => {
    const response = await airlock.request('/v1/sandbox/execute', { method: 'POST', json: { code: 'print(1)', webhook_url: 'https://93.184.215.14/hook' } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'validation_error', message: expect.stringContaining('Prefer: respond-async') });
  });

  it('rotates the signing secret', async () => {
    const rotated = await airlock.request<{ secret: string }>('/admin/v1/sandboxes/default/webhook-secret/rotate', {
      method: 'POST',
      apiKey: airlock.adminToken,
    });
    expect(rotated.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.body.secret).not.toBe(secret);
    expect(await webhookSecret(airlock)).toBe(rotated.body.secret);
    expect((await airlock.request('/admin/v1/sandboxes/default/webhook-secret')).status).toBe(401);
    secret = rotated.body.secret;
  });
});

describe('webhooks outside development mode', () => {
  it('refuses loopback destinations in every spelling', async () => {
    const production = await startAirlock({ environment: { AIRLOCK_POOL_MAX_SLOTS: '0' } });
    try {
      for (const url of ['https://127.0.0.1/hook', 'https://localhost/hook', 'https://[::1]/hook', 'https://2130706433/hook', 'https://0x7f.1/hook', 'http://127.0.0.1:1/hook']) {
        const response = await executeAsync(production, { code: 'print(1)', webhook_url: url });
        expect({ url, status: response.status, error: response.body }).toMatchObject({ url, status: 400, error: { error: 'validation_error' } });
      }
    } finally {
      await production.close();
    }
  });
});

describe('the webhook outbox', () => {
  it('survives a server restart: a pending delivery is retried by the next run', async () => {
    receiver = await startWebhookReceiver();
    receiver.respond = (_request, response) => response.writeHead(503).end();
    const first = await startAirlock({
      environment: { ...DEVELOPMENT, AIRLOCK_WEBHOOK_MAX_ATTEMPTS: '20', AIRLOCK_WEBHOOK_RETRY_SECONDS: '0.5' },
      keepDataDirectory: true,
    });
    let second: AirlockFixture | undefined;
    try {
      const signingSecret = await webhookSecret(first);
      const accepted = await executeAsync(first, { code: 'print("kept")', webhook_url: receiver.url });
      await delivery(first, accepted.body.trace_id, (state) => state.attempts.length >= 1);
      await first.close();
      const attemptsWhileUp = receiver.received.length;
      receiver.respond = (_request, response) => response.writeHead(200).end();

      second = await startAirlock({
        environment: { ...DEVELOPMENT, AIRLOCK_WEBHOOK_MAX_ATTEMPTS: '20', AIRLOCK_BOOTSTRAP_API_KEY: first.apiKey },
        keepDataDirectory: true,
        dataDirectory: first.dataDirectory,
      });
      const webhooks = await receiver.waitFor(attemptsWhileUp + 1);
      const last = webhooks.at(-1) as ReceivedWebhook;
      expect(verified(last, signingSecret)).toMatchObject({ trace_id: accepted.body.trace_id, stdout: 'kept\n' });
      const record = await delivery(second, accepted.body.trace_id, (state) => state.status === 'delivered');
      expect(record.attempts.at(-1)?.status_code).toBe(200);
      expect(record.attempts.slice(0, -1).every((attempt) => attempt.status_code === 503)).toBe(true);
    } finally {
      await first.close();
      await second?.close();
      await first.removeDataDirectory();
    }
  });

  it('delivers, after a SIGKILL of the server mid-execution, the failure its next start records', async () => {
    receiver = await startWebhookReceiver();
    const dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-webhook-crash-'));
    const key = testApiKey();
    const uid = String(testSandboxUid());
    const environment = { ...DEVELOPMENT, AIRLOCK_BOOTSTRAP_API_KEY: key, AIRLOCK_SANDBOX_UID: uid, AIRLOCK_SANDBOX_GID: uid };
    try {
      const first = await startServeProcess({ dataDirectory, environment });
      const adminToken = (await readFile(join(dataDirectory, 'admin-token'), 'utf8')).trim();
      const secretResponse = await fetch(`${first.url}/admin/v1/sandboxes/default/webhook-secret`, { headers: { authorization: `Bearer ${adminToken}` } });
      const { secret: signingSecret } = (await secretResponse.json()) as { secret: string };
      const accepted = await fetch(`${first.url}/v1/sandbox/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', prefer: 'respond-async' },
        body: JSON.stringify({ code: 'import time; time.sleep(600)', webhook_url: receiver.url }),
      });
      expect(accepted.status).toBe(202);
      const { trace_id: traceId } = (await accepted.json()) as { trace_id: string };
      first.child.kill('SIGKILL');
      await waitForExit(first.child);
      expect(receiver.received).toEqual([]);

      const second = await startServeProcess({ dataDirectory, environment });
      try {
        const [webhook] = (await receiver.waitFor(1)) as [ReceivedWebhook];
        expect(verified(webhook, signingSecret)).toMatchObject({
          trace_id: traceId,
          status: 'failed',
          success: false,
          exit_code: -1,
          error: 'server_stopped',
          error_message: "the server stopped while this execution was running; changes it made to a thread's home were not saved",
        });
      } finally {
        second.child.kill('SIGTERM');
        await waitForExit(second.child);
      }
    } finally {
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });
});
