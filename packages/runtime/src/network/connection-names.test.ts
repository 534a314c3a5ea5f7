import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { httpHost, tlsServerName } from './connection-names.js';

/** The first bytes a real TLS client sends for `servername`, caught by a plain TCP server. */
async function clientHello(servername: string | undefined): Promise<Buffer> {
  const server = createServer();
  const first = new Promise<Buffer>((resolve) => server.on('connection', (socket) => socket.once('data', (data: Buffer) => (resolve(data), socket.destroy()))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername, rejectUnauthorized: false });
  client.on('error', () => undefined);
  const bytes = await first;
  client.destroy();
  server.close();
  return bytes;
}

describe('tlsServerName', () => {
  it('reads the server name of a real ClientHello, and asks for more while the record is incomplete', async () => {
    const hello = await clientHello('API.Example.com');
    expect(tlsServerName(hello)).toEqual({ name: 'api.example.com' });
    expect(tlsServerName(hello.subarray(0, 3))).toBe('incomplete');
    expect(tlsServerName(hello.subarray(0, hello.length - 1))).toBe('incomplete');
  });

  it('finds no name in a ClientHello without one, in HTTP, or in a record whose lengths lie', async () => {
    expect(tlsServerName(await clientHello(''))).toBe('none');
    expect(tlsServerName(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBe('none');
    const lying = Buffer.from([22, 3, 1, 0, 6, 1, 0, 0, 2, 0xff, 0xff]);
    expect(tlsServerName(lying)).toBe('none');
  });
});

describe('httpHost', () => {
  it('reads the Host header without its port', () => {
    expect(httpHost(Buffer.from('GET /x HTTP/1.1\r\nUser-Agent: t\r\nHost: Web.Test.Example:8080\r\n\r\nbody'))).toEqual({ name: 'web.test.example' });
    expect(httpHost(Buffer.from('GET /x HTTP/1.1\r\nHost: web'))).toBe('incomplete');
  });

  it('finds no name without a Host, with two, or in something that is not HTTP/1', () => {
    expect(httpHost(Buffer.from('GET / HTTP/1.0\r\n\r\n'))).toBe('none');
    expect(httpHost(Buffer.from('GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n'))).toBe('none');
    expect(httpHost(Buffer.from('\x16\x03\x01 whatever\r\n\r\n'))).toBe('none');
    expect(httpHost(Buffer.from('GET / HTTP/1.1\r\nHost: a b\r\n\r\n'))).toBe('none');
  });
});
