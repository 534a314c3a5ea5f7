/* global Buffer */
// An authoritative DNS server for the test zone `test.example`, run inside a test network namespace:
//   node test-dns-server.mjs ADDRESS
// web.test.example A 198.51.100.10; alias.test.example CNAME web.test.example; other names NXDOMAIN. UDP and TCP.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import process from 'node:process';
import dnsPacket from 'dns-packet';

const address = process.argv[2];
const records = {
  'web.test.example': [{ type: 'A', name: 'web.test.example', ttl: 60, data: '198.51.100.10' }],
  'alias.test.example': [
    { type: 'CNAME', name: 'alias.test.example', ttl: 60, data: 'web.test.example' },
    { type: 'A', name: 'web.test.example', ttl: 60, data: '198.51.100.10' },
  ],
};

function answer(message) {
  const query = dnsPacket.decode(message);
  const question = query.questions[0];
  const found = records[question.name.toLowerCase()];
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
