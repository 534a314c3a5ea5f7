import { adminToken, type AdminOptions } from '../admin-token.js';
import { requestJson, serverUrl } from '../http-client.js';

export async function keysCreateCommand(options: AdminOptions & { name: string; sandbox: string }): Promise<void> {
  const created = await requestJson<{ id: string; key: string; sandbox: string }>({
    url: `${serverUrl()}/admin/v1/api-keys`,
    method: 'POST',
    token: adminToken(options),
    body: { name: options.name, organization: options.organization, sandbox: options.sandbox },
  });
  process.stdout.write(`${created.key}\n`);
  process.stderr.write(`created ${created.id} for sandbox "${created.sandbox}"; the key is shown only once\n`);
}

export async function keysListCommand(options: AdminOptions): Promise<void> {
  const { api_keys: keys } = await requestJson<{
    api_keys: Array<{ id: string; name: string; display_prefix: string; created_at: string; revoked_at: string | null; last_used_at: string | null }>;
  }>({
    url: `${serverUrl()}/admin/v1/api-keys?organization=${encodeURIComponent(options.organization)}`,
    method: 'GET',
    token: adminToken(options),
  });
  for (const key of keys) {
    const state = key.revoked_at ? `revoked ${key.revoked_at}` : `last used ${key.last_used_at ?? 'never'}`;
    process.stdout.write(`${key.id}\t${key.display_prefix}\t${key.name}\tcreated ${key.created_at}\t${state}\n`);
  }
}

export async function keysRevokeCommand(id: string, options: AdminOptions): Promise<void> {
  await requestJson({
    url: `${serverUrl()}/admin/v1/api-keys/${encodeURIComponent(id)}?organization=${encodeURIComponent(options.organization)}`,
    method: 'DELETE',
    token: adminToken(options),
  });
  process.stderr.write(`revoked ${id}\n`);
}

export async function keysRotateCommand(id: string, options: AdminOptions): Promise<void> {
  const rotated = await requestJson<{ id: string; key: string }>({
    url: `${serverUrl()}/admin/v1/api-keys/${encodeURIComponent(id)}/rotate?organization=${encodeURIComponent(options.organization)}`,
    method: 'POST',
    token: adminToken(options),
  });
  process.stdout.write(`${rotated.key}\n`);
  process.stderr.write(`rotated ${rotated.id}: the old key no longer works; the new one is shown only once\n`);
}
