import { createApp, type AppServices } from '../../packages/server/src/http/app.js';
import { ConnectionsPerAddress } from '../../packages/server/src/http/connection-limit.js';
import { NodeSignature } from '../../packages/server/src/nodes/node-keys.js';

const unused = (name: string) => () => {
  throw new Error(`services.node.${name} was used; the test app has no services`);
};

/**
 * The HTTP app built on services that throw when used: for in-process tests of routing and middleware that must
 * answer before any service is reached. `settings` gives the plain values the app reads when it is built.
 */
export function appWithoutServices(settings: Partial<Pick<AppServices, 'corsOrigins' | 'publicUrl'>> = {}) {
  const values: Partial<AppServices> = {
    corsOrigins: [],
    publicUrl: undefined,
    bodyTimeoutSeconds: 30,
    connections: new ConnectionsPerAddress(0),
    node: { id: 'node_test', signature: new NodeSignature(Buffer.alloc(32)), forgetCachedHere: unused('forgetCachedHere'), announceChange: unused('announceChange'), list: unused('list') },
    ...settings,
  };
  const services = new Proxy(values as AppServices, {
    get: (target, name) =>
      name in target
        ? target[name as keyof AppServices]
        : new Proxy(
            {},
            {
              get: (_service, property) => {
                throw new Error(`services.${String(name)}.${String(property)} was used; the test app has no services`);
              },
            },
          ),
  });
  return createApp(services);
}
