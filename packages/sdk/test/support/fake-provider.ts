import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A provider's HTTP API on loopback, answering each request with the next scripted body; records what it received. */
export interface FakeProvider {
  url: string;
  requests: Array<{ path: string; body: unknown }>;
  close(): Promise<void>;
}

export async function startFakeProvider(
  answer: (request: { path: string; body: unknown; index: number }, response: ServerResponse) => void,
): Promise<FakeProvider> {
  const requests: FakeProvider['requests'] = [];
  const server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text ? JSON.parse(text) : null;
    const path = request.url ?? '/';
    requests.push({ path, body });
    answer({ path, body, index: requests.length - 1 }, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

export function answerJson(response: ServerResponse, body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
