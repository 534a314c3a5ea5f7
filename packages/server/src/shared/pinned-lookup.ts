import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';

/** A lookup that answers only the addresses already checked (Node calls it when it connects to a name). */
export function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family = typeof options === 'object' ? options.family : undefined;
    const matching = addresses.filter((entry) => !family || entry.family === family);
    if (matching.length === 0) {
      callback(Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' }), '', 0);
    } else if (typeof options === 'object' && options.all) {
      (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, matching);
    } else {
      const [first] = matching as [LookupAddress];
      callback(null, first.address, first.family);
    }
  };
}
