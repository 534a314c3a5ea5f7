/**
 * The name a TCP connection asks for in its first bytes: TLS's server name indication or HTTP's Host header, read by
 * the allowlist proxy before it connects anywhere.
 */

/** `incomplete`: more bytes are needed; `none`: the bytes are complete and name nothing (or are not the protocol). */
export type ConnectionName = { name: string } | 'incomplete' | 'none';

/** The longest first message read for a name: a TLS record (16 KiB and its header), an HTTP request head. */
export const MAX_NAME_BYTES = 16_384 + 5;

const TLS_HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const SERVER_NAME_EXTENSION = 0;
const HOST_NAME = 0;

/**
 * The server name of a TLS ClientHello at the start of `bytes`. Only a ClientHello in one record is read (every
 * client sends it so unless it is larger than 16 KiB); with encrypted client hello this is the outer, public name.
 */
export function tlsServerName(bytes: Buffer): ConnectionName {
  if (bytes.length < 5) return 'incomplete';
  if (bytes[0] !== TLS_HANDSHAKE) return 'none';
  const recordLength = bytes.readUInt16BE(3);
  if (bytes.length < 5 + recordLength) return 'incomplete';
  const record = bytes.subarray(5, 5 + recordLength);
  try {
    if (record[0] !== CLIENT_HELLO) return 'none';
    const hello = record.subarray(4, 4 + record.readUIntBE(1, 3));
    let offset = 2 + 32; // client version, random
    offset += 1 + hello.readUInt8(offset); // session id
    offset += 2 + hello.readUInt16BE(offset); // cipher suites
    offset += 1 + hello.readUInt8(offset); // compression methods
    if (offset >= hello.length) return 'none';
    const extensionsEnd = offset + 2 + hello.readUInt16BE(offset);
    for (offset += 2; offset + 4 <= extensionsEnd; ) {
      const type = hello.readUInt16BE(offset);
      const length = hello.readUInt16BE(offset + 2);
      const extension = hello.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      if (type !== SERVER_NAME_EXTENSION) continue;
      const listEnd = 2 + extension.readUInt16BE(0);
      for (let entry = 2; entry + 3 <= listEnd; ) {
        const nameType = extension.readUInt8(entry);
        const nameLength = extension.readUInt16BE(entry + 1);
        if (nameType === HOST_NAME) return hostName(extension.subarray(entry + 3, entry + 3 + nameLength).toString('latin1'));
        entry += 3 + nameLength;
      }
    }
    return 'none';
  } catch {
    return 'none'; // a length pointing past the record
  }
}

/** The Host header of an HTTP/1 request head at the start of `bytes`, without its port. */
export function httpHost(bytes: Buffer): ConnectionName {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return bytes.length >= MAX_NAME_BYTES ? 'none' : 'incomplete';
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  if (!/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(lines[0] ?? '')) return 'none';
  const hosts = lines.slice(1).flatMap((line) => /^host:\s*(.*?)\s*$/i.exec(line)?.[1] ?? []);
  // Two Host headers are a request smuggling attempt: which one a server reads is its choice.
  if (hosts.length !== 1) return 'none';
  return hostName(hosts[0]!.replace(/:\d+$/, ''));
}

function hostName(text: string): ConnectionName {
  const name = text.toLowerCase().replace(/\.$/, '');
  return /^[a-z0-9.-]{1,253}$/.test(name) ? { name } : 'none';
}
