import { allowlistAllowsName, allowlistCovers, isNetworkEntry } from '@airlock/contracts';
import { AllowlistProxy, type ProxiedConnection } from './allowlist-proxy.js';
import { NFTABLES_TABLE } from './network-ruleset.js';
import { lookupAddresses } from './sandbox-resolver.js';

export interface SlotAllowlistOptions {
  address: string;
  gateway: string;
  /** Resolvers the proxy asks for an allowed name's addresses (the slot resolver's upstream). */
  upstream: string[];
  /** Runs nftables commands over the server's session, as one transaction. */
  nft: (command: string) => Promise<void>;
  /** Where a connection from the sandbox, by its source port, was going before it was redirected to the proxy. */
  originalDestination: (sourcePort: number) => Promise<string | undefined>;
}

/**
 * The `allowlist` mode of one slot's network (docs/decisions/0020-sandbox-network.md). `prepare`, when the slot is
 * wired, puts the sandbox in the host's set `allowlisted` and starts its proxy; the slot's resolver answers the names
 * `allows` and calls `open` with their addresses: until `bind` gives it a list the sandbox reaches nothing. `bind`, before the code runs, is in-process for a list of
 * names; a list with networks adds them to `allowed_networks` in one nftables transaction.
 */
export class SlotAllowlist {
  readonly #options: SlotAllowlistOptions;
  readonly #proxy: AllowlistProxy;
  /** Elements this slot added to the host's sets, deleted by `forget`. */
  readonly #elements: string[] = [];
  readonly #resolved = new Set<string>();
  #names: string[] = [];
  #bound = false;

  constructor(options: SlotAllowlistOptions) {
    this.#options = options;
    this.#proxy = new AllowlistProxy({
      gateway: options.gateway,
      sandbox: options.address,
      allowsName: (name) => this.allows(name),
      resolve: (name) => lookupAddresses(name, options.upstream),
      originalDestination: options.originalDestination,
    });
  }

  async prepare(): Promise<void> {
    const { address } = this.#options;
    await this.#proxy.start();
    await this.#add([`allowlisted { ${address} }`]);
  }

  /** Lets the sandbox reach the names and networks of `entries` (as `@airlock/contracts` validates them); once. */
  async bind(entries: readonly string[]): Promise<void> {
    if (this.#bound) throw new Error('the slot network already has its allowlist');
    this.#bound = true;
    this.#names = entries.filter((entry) => !isNetworkEntry(entry));
    // An interval set refuses overlapping elements: a network inside another listed one adds nothing.
    const listed = entries.filter(isNetworkEntry);
    const networks = listed.filter((network) => !listed.some((other) => other !== network && allowlistCovers([other], network)));
    if (networks.length > 0) await this.#add([`allowed_networks { ${networks.map((network) => `${this.#options.address} . ${network}`).join(', ')} }`]);
  }

  connections(): ProxiedConnection[] {
    return this.#proxy.connections();
  }

  /** Closes the proxy and takes the sandbox out of the host's sets, so the next sandbox with its address has none. */
  async forget(): Promise<void> {
    await this.#proxy.close();
    const { address, nft } = this.#options;
    if (this.#elements.length > 0) await nft(this.#elements.map((element) => `delete element inet ${NFTABLES_TABLE} ${element}`).join('; '));
    // Each connection the proxy saw left its original destination in `proxied`, unless it has expired since.
    for (const port of this.#proxy.sourcePorts()) {
      await nft(`delete element inet ${NFTABLES_TABLE} proxied { ${address} . ${port} }`).catch(() => undefined);
    }
  }

  allows(name: string): boolean {
    return allowlistAllowsName(this.#names, name);
  }

  /** Opens, on every port, the addresses the resolver is about to hand out for an allowed name. */
  async open(addresses: string[]): Promise<void> {
    const added = addresses.filter((handedOut) => !this.#resolved.has(handedOut));
    if (added.length === 0) return;
    for (const handedOut of added) this.#resolved.add(handedOut);
    await this.#add([`resolved { ${added.map((handedOut) => `${this.#options.address} . ${handedOut}`).join(', ')} }`]);
  }

  async #add(elements: string[]): Promise<void> {
    await this.#options.nft(elements.map((element) => `add element inet ${NFTABLES_TABLE} ${element}`).join('; '));
    this.#elements.push(...elements);
  }
}
