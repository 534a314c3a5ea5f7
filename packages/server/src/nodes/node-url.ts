import { networkInterfaces } from 'node:os';

/**
 * Where the other nodes reach this one when AIRLOCK_NODE_URL is unset: the URL it listens on, or, when it listens on
 * every address, its first non-loopback IPv4 address (a pod's IP in Kubernetes) with its port; null when it has none.
 */
export function nodeUrl(host: string, listeningUrl: string): string | null {
  if (host !== '0.0.0.0' && host !== '::') return listeningUrl;
  const address = Object.values(networkInterfaces())
    .flat()
    .find((candidate) => candidate !== undefined && candidate.family === 'IPv4' && !candidate.internal)?.address;
  return address === undefined ? null : `http://${address}:${new URL(listeningUrl).port}`;
}
