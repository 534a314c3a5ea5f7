import { isIPv4 } from 'node:net';
import { allowlistAllowsName, isNeverConnectorAddress } from '@airlock/contracts';
import { CONNECTOR_SET, NFTABLES_TABLE } from './network-ruleset.js';

/** A host (a name, a `*.` wildcard of names, or an IPv4 address) and TCP port a connector opens for a call. */
export interface ConnectorEndpoint {
  /** The connector's name, shown in the network receipt. */
  connector: string;
  host: string;
  port: number;
}

/**
 * The connector endpoints of one slot's call (docs/decisions/0028-connectors.md): the host set `connector_endpoints`
 * holds `sandbox . address . port` for each, which the host's rules let through before anything they refuse (private
 * addresses included: the operator named them). An IPv4 host is added when the endpoints are opened; a name when the
 * slot's resolver answers it, with the addresses it hands out, except those in NEVER_CONNECTOR_IPV4.
 */
export class SlotConnectors {
  readonly #address: string;
  readonly #nft: (command: string) => Promise<void>;
  #endpoints: ConnectorEndpoint[] = [];
  /** `address . port` elements added, with the connector each is for. */
  readonly #opened = new Map<string, string>();

  constructor(options: { address: string; nft: (command: string) => Promise<void> }) {
    this.#address = options.address;
    this.#nft = options.nft;
  }

  async open(endpoints: readonly ConnectorEndpoint[]): Promise<void> {
    this.#endpoints = [...endpoints];
    await this.#add(endpoints.filter((endpoint) => isIPv4(endpoint.host)).map((endpoint) => ({ ...endpoint, address: endpoint.host })));
  }

  /** Whether the slot's resolver answers `name` for a connector. */
  allows(name: string): boolean {
    return this.#named(name).length > 0;
  }

  /** Opens the endpoints of `name` on the addresses the resolver is about to hand out for it. */
  async beforeAnswer(name: string, addresses: readonly string[]): Promise<void> {
    const endpoints = this.#named(name);
    await this.#add(endpoints.flatMap((endpoint) => addresses.map((address) => ({ ...endpoint, address }))));
  }

  /** The connector an address and port were opened for. */
  connectorOf(address: string, port: number): string | undefined {
    return this.#opened.get(`${address} . ${port}`);
  }

  /** Takes the slot's elements out of the host's set, so the next sandbox with its address has none. */
  async forget(): Promise<void> {
    const elements = [...this.#opened.keys()];
    this.#opened.clear();
    this.#endpoints = [];
    if (elements.length > 0) {
      await this.#nft(`delete element inet ${NFTABLES_TABLE} ${CONNECTOR_SET} { ${elements.map((element) => `${this.#address} . ${element}`).join(', ')} }`);
    }
  }

  #named(name: string): ConnectorEndpoint[] {
    return this.#endpoints.filter((endpoint) => !isIPv4(endpoint.host) && allowlistAllowsName([endpoint.host.toLowerCase()], name));
  }

  async #add(openings: Array<ConnectorEndpoint & { address: string }>): Promise<void> {
    // A name the connector's DNS points at loopback, link-local (cloud metadata) or reserved addresses opens nothing there.
    const added = openings.filter(
      ({ address, port }) => isIPv4(address) && !isNeverConnectorAddress(address) && !this.#opened.has(`${address} . ${port}`),
    );
    if (added.length === 0) return;
    for (const { address, port, connector } of added) this.#opened.set(`${address} . ${port}`, connector);
    const elements = [...new Set(added.map(({ address, port }) => `${this.#address} . ${address} . ${port}`))];
    await this.#nft(`add element inet ${NFTABLES_TABLE} ${CONNECTOR_SET} { ${elements.join(', ')} }`);
  }
}
