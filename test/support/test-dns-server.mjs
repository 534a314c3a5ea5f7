/* global Buffer */
// An authoritative DNS server for the test zone `test.example`, run inside a test network namespace:
//   node test-dns-server.mjs ADDRESS
// Records, all leading to the internet host 198.51.100.10:
//   web.test.example A; other.test.example A;
//   alias.test.example CNAME web.test.example;
//   *.wild.test.example A (any name under wild.test.example, at any depth; wild.test.example itself NXDOMAIN);
//   cdn.test.example CNAME edge.cdnhost.example, and edge.cdnhost.example A: a CNAME out of the zone, as a CDN's, the
//   server answering for the other zone too since it is the only DNS server of the tests.
// And, for the fake GitHub of the connector tests (fake-github.ts), github.com A and api.github.com A 198.51.100.30
// (the topology's githubAddress), so that in tests these names lead to the test host alone.
// Other names NXDOMAIN. Answers for A queries; other types of these names are answered with no records. UDP and TCP.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import process from 'node:process';
import dnsPacket from 'dns-packet';

const address = process.argv[2];
/** An A record of `name` for the internet host. */
const internetHost = (name) => ({ type: 'A', name, ttl: 60, data: '198.51.100.10' });
/** An A record of `name` for the fake GitHub, on the internet host. */
const githubHost = (name) => ({ type: 'A', name, ttl: 60, data: '198.51.100.30' });
const records = {
  'web.test.example': [internetHost('web.test.example')],
  'other.test.example': [internetHost('other.test.example')],
  'alias.test.example': [{ type: 'CNAME', name: 'alias.test.example', ttl: 60, data: 'web.test.example' }, internetHost('web.test.example')],
  'cdn.test.example': [{ type: 'CNAME', name: 'cdn.test.example', ttl: 60, data: 'edge.cdnhost.example' }, internetHost('edge.cdnhost.example')],
  'edge.cdnhost.example': [internetHost('edge.cdnhost.example')],
  'github.com': [githubHost('github.com')],
  'api.github.com': [githubHost('api.github.com')],
};

function lookup(name) {
  const lowered = name.toLowerCase();
  if (Object.hasOwn(records, lowered)) return records[lowered];
  return lowered.endsWith('.wild.test.example') ? [internetHost(name)] : undefined;
}

function answer(message) {
  const query = dnsPacket.decode(message);
  const question = query.questions[0];
  const found = lookup(question.name);
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    // The response code is the flags' low 4 bits: 3 is NXDOMAIN.
    flags: dnsPacket.AUTHORITATIVE_ANSWER | (found ? 0 : 3),
    questions: query.questions,
    answers: found && question.type === 'A' ? found : [],
  });
}

const udp = createSocket('udp4');
udp.on('message', (message, remote) => udp.send(answer(message), remote.port, remote.address));
udp.bind(53, address);
createServer((socket) => {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const reply = answer(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(reply.length);
      socket.end(Buffer.concat([prefix, reply]));
    }
  });
  socket.on('error', () => socket.destroy());
}).listen(53, address);
