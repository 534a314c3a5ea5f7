import type { ApiKeySummary, SandboxSummary } from '@airlock/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { inOrganization, post, remove } from '../api.js';
import { keyNetwork, keyStorage, keyWeb } from '../key-narrowing.js';
import { Button, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { SandboxSelect, useApiKeys, useAttachments, useSandboxConnectors, useSandboxes } from '../organization-data.js';
import { useSession } from '../session.js';

interface CreatedKey {
  id: string;
  name: string;
  key: string;
}

/** How a new key narrows its sandbox config, as the form holds it. */
interface Narrowing {
  network: '' | 'blocked' | 'allowlist';
  networkAllow: string;
  storage: Record<string, { scope: 'attached' | 'read_only' | 'detached'; prefix: string }>;
  /** The connectors kept; null keeps them all. */
  connectors: string[] | null;
  envVars: string;
  web: WebNarrowingDraft;
}

/** How a key narrows the web tools: as its sandbox config has them, off, or within them. */
interface WebNarrowingDraft {
  mode: '' | 'off' | 'narrowed';
  httpsOnly: boolean;
  requestsPerCall: string;
  searchOff: boolean;
  scan: '' | 'flag' | 'block';
}

const AS_CONFIGURED_WEB: WebNarrowingDraft = { mode: '', httpsOnly: false, requestsPerCall: '', searchOff: false, scan: '' };
const NO_NARROWING: Narrowing = { network: '', networkAllow: '', storage: {}, connectors: null, envVars: '', web: AS_CONFIGURED_WEB };

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** A key's web narrowing as the API takes it; a limit stays as typed when it is not a number, so the API's message names it. */
function webNarrowingRequest(web: WebNarrowingDraft): Record<string, unknown> | undefined {
  if (web.mode === 'off') return { off: true };
  if (web.mode === '') return undefined;
  const perCall = web.requestsPerCall.trim();
  const narrowing = {
    ...(web.httpsOnly && { https_only: true }),
    ...(perCall && { requests_per_call: Number.isNaN(Number(perCall)) ? perCall : Number(perCall) }),
    ...(web.searchOff && { search: false }),
    ...(web.scan && { injection_scan: web.scan }),
  };
  return Object.keys(narrowing).length > 0 ? narrowing : undefined;
}

/** The narrowing fields of the create request; those left as the sandbox config has them are left out. */
function narrowingRequest(narrowing: Narrowing) {
  const storage = Object.fromEntries(
    Object.entries(narrowing.storage)
      .filter(([, mount]) => mount.scope !== 'attached' || mount.prefix !== '')
      .map(([name, mount]) => [
        name,
        mount.scope === 'detached' ? { detached: true } : { ...(mount.prefix && { prefix: mount.prefix }), ...(mount.scope === 'read_only' && { read_only: true }) },
      ]),
  );
  const envVars = Object.fromEntries(
    lines(narrowing.envVars).map((line) => {
      const equals = line.indexOf('=');
      return equals < 0 ? [line, ''] : [line.slice(0, equals), line.slice(equals + 1)];
    }),
  );
  const web = webNarrowingRequest(narrowing.web);
  return {
    ...(narrowing.network && { network: narrowing.network }),
    ...(narrowing.network === 'allowlist' && narrowing.networkAllow.trim() && { network_allow: lines(narrowing.networkAllow) }),
    ...(Object.keys(storage).length > 0 && { storage }),
    ...(narrowing.connectors !== null && { connectors: narrowing.connectors }),
    ...(Object.keys(envVars).length > 0 && { env_vars: envVars }),
    ...(web && { web }),
  };
}

/** The organization's API keys: created (shown once, with a copy button and a curl example), narrowed, revoked by admins. */
export function ApiKeysPage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const keys = useApiKeys();
  const sandboxes = useSandboxes();
  const [name, setName] = useState('');
  const [sandbox, setSandbox] = useState('default');
  const [narrowing, setNarrowing] = useState<Narrowing>(NO_NARROWING);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['api-keys', organization] });
  const create = useMutation({
    mutationFn: () => post<CreatedKey>(inOrganization('/admin/v1/api-keys', organization), { name, sandbox, ...narrowingRequest(narrowing) }),
    onSuccess: async (key) => {
      setCreated(key);
      setName('');
      setNarrowing(NO_NARROWING);
      await refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => remove(inOrganization(`/admin/v1/api-keys/${id}`, organization)), onSuccess: refresh });
  const rotate = useMutation({
    mutationFn: (id: string) => post<CreatedKey>(inOrganization(`/admin/v1/api-keys/${id}/rotate`, organization)),
    onSuccess: async (key) => {
      setCreated(key);
      await refresh();
    },
  });
  const chooseSandbox = (next: string) => {
    setSandbox(next);
    setNarrowing(NO_NARROWING);
  };
  const configOf = (id: string) => sandboxes.data?.sandboxes.find((candidate) => candidate.id === id);
  const chosen = sandboxes.data?.sandboxes.find((candidate) => candidate.name === sandbox);
  return (
    <>
      <PageTitle description="A key runs code in its sandbox config's sandboxes, narrowed if you like; it is shown once, when made.">API keys</PageTitle>
      {created && <ShownOnce created={created} onDone={() => setCreated(null)} />}
      <ErrorMessage error={keys.error ?? revoke.error ?? rotate.error} />
      <Table
        caption="API keys"
        headers={['Name', 'Key', 'Sandbox config', 'Narrowed to', 'Last used', 'State', '']}
        rows={(keys.data?.api_keys ?? []).map((key) => {
          const config = configOf(key.sandbox_config_id);
          return [
            key.name,
            <code key="prefix">{key.display_prefix}</code>,
            config?.name ?? key.sandbox_config_id,
            config ? <KeyNarrowing key="narrowing" apiKey={key} sandbox={config} /> : '',
            key.last_used_at ? new Date(key.last_used_at).toLocaleString() : 'never',
            key.revoked_at ? 'revoked' : 'active',
            can('admin') && !key.revoked_at ? (
              <span key="actions" className="flex gap-2">
                <Button onClick={() => rotate.mutate(key.id)} aria-label={`Rotate ${key.name}`} title="A new secret for this key; the old one stops working">
                  Rotate
                </Button>
                <Button tone="danger" onClick={() => revoke.mutate(key.id)} aria-label={`Revoke ${key.name}`}>
                  Revoke
                </Button>
              </span>
            ) : null,
          ];
        })}
        empty="No API key yet."
      />
      {can('admin') && (
        <CreateForm submitLabel="Create API key" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
          <Field label="Key name">
            <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label="Sandbox config">
            <SandboxSelect value={sandbox} onChange={chooseSandbox} />
          </Field>
          {chosen && <NarrowingFields sandbox={chosen} narrowing={narrowing} onChange={setNarrowing} />}
        </CreateForm>
      )}
    </>
  );
}

function KeyNarrowing(props: { apiKey: ApiKeySummary; sandbox: SandboxSummary }) {
  const { apiKey, sandbox } = props;
  const parts = [
    apiKey.network !== null && `network ${keyNetwork(apiKey, sandbox)}`,
    Object.keys(apiKey.storage).length > 0 && `storage ${keyStorage(apiKey)}`,
    apiKey.connectors !== null && `connectors: ${apiKey.connectors.join(', ') || 'none'}`,
    apiKey.web !== null && `web ${keyWeb(apiKey.web)}`,
  ].filter(Boolean);
  return <span className="text-slate-600">{parts.join('; ') || 'nothing'}</span>;
}

/** What the key may narrow: the network, each mount of its sandbox config, its connectors; and its own variables. */
function NarrowingFields(props: { sandbox: SandboxSummary; narrowing: Narrowing; onChange: (narrowing: Narrowing) => void }) {
  const { sandbox, narrowing, onChange } = props;
  const attachments = useAttachments(sandbox.name);
  const connectors = useSandboxConnectors(sandbox.name);
  const attached = connectors.data?.connectors.map((connector) => connector.name) ?? [];
  const kept = narrowing.connectors ?? attached;
  const toggle = (connector: string, keep: boolean) => {
    const next = keep ? [...kept, connector] : kept.filter((name) => name !== connector);
    onChange({ ...narrowing, connectors: next.length === attached.length ? null : next });
  };
  const setMount = (mount: string, change: Partial<Narrowing['storage'][string]>) =>
    onChange({
      ...narrowing,
      storage: { ...narrowing.storage, [mount]: { scope: 'attached', prefix: '', ...narrowing.storage[mount], ...change } },
    });
  return (
    <fieldset className="flex w-full flex-wrap items-start gap-3 border-t border-slate-200 pt-3">
      <legend className="mb-2 text-sm font-medium">Narrowing (a key never widens its sandbox config)</legend>
      <Field label="Key network" hint={`the sandbox config: ${sandbox.network}`}>
        <select className={inputClass} value={narrowing.network} onChange={(event) => onChange({ ...narrowing, network: event.target.value as Narrowing['network'] })}>
          <option value="">as the sandbox config</option>
          <option value="blocked">blocked</option>
          {sandbox.network !== 'blocked' && <option value="allowlist">allowlist</option>}
        </select>
      </Field>
      {narrowing.network === 'allowlist' && (
        <Field label="Key allowlist" hint={sandbox.network === 'allowlist' ? 'one per line, each within the config\'s; empty keeps the config\'s' : 'one per line'}>
          <textarea className={`${inputClass} h-20 font-mono`} value={narrowing.networkAllow} onChange={(event) => onChange({ ...narrowing, networkAllow: event.target.value })} />
        </Field>
      )}
      {(attachments.data?.attachments ?? []).map((mount) => (
        <div key={mount.mount_name} className="flex gap-2">
          <Field label={`${mount.path} for this key`}>
            <select
              className={inputClass}
              value={narrowing.storage[mount.mount_name]?.scope ?? 'attached'}
              onChange={(event) => setMount(mount.mount_name, { scope: event.target.value as 'attached' | 'read_only' | 'detached' })}
            >
              <option value="attached">{mount.read_only ? 'as attached (read-only)' : 'as attached'}</option>
              {!mount.read_only && <option value="read_only">read-only</option>}
              <option value="detached">detached</option>
            </select>
          </Field>
          {narrowing.storage[mount.mount_name]?.scope !== 'detached' && (
            <Field label={`${mount.path} prefix`} hint="a directory inside it; empty: all of it">
              <input className={inputClass} value={narrowing.storage[mount.mount_name]?.prefix ?? ''} onChange={(event) => setMount(mount.mount_name, { prefix: event.target.value })} />
            </Field>
          )}
        </div>
      ))}
      {attached.length > 0 && (
        <fieldset className="text-sm">
          <legend className="font-medium">Connectors kept</legend>
          {attached.map((connector) => (
            <label key={connector} className="mr-3 inline-flex items-center gap-1">
              <input type="checkbox" checked={kept.includes(connector)} onChange={(event) => toggle(connector, event.target.checked)} />
              {connector}
            </label>
          ))}
        </fieldset>
      )}
      <WebNarrowingFields sandbox={sandbox} web={narrowing.web} onChange={(web) => onChange({ ...narrowing, web })} />
      <Field label="Key environment variables" hint="one NAME=value per line; they override the sandbox config's">
        <textarea className={`${inputClass} h-20 font-mono`} value={narrowing.envVars} onChange={(event) => onChange({ ...narrowing, envVars: event.target.value })} />
      </Field>
    </fieldset>
  );
}

/** How the key narrows the web tools of its sandbox config: off, or a few of the narrowings the API takes. */
function WebNarrowingFields(props: { sandbox: SandboxSummary; web: WebNarrowingDraft; onChange: (web: WebNarrowingDraft) => void }) {
  const { sandbox, web, onChange } = props;
  if (sandbox.web === null) return null;
  const config = sandbox.web;
  return (
    <div className="flex flex-wrap items-end gap-3">
      <Field label="Key web tools" hint={`the sandbox config: ${config.requests_per_call} per call, scan ${config.injection_scan}`}>
        <select className={inputClass} value={web.mode} onChange={(event) => onChange({ ...web, mode: event.target.value as WebNarrowingDraft['mode'] })}>
          <option value="">as the sandbox config</option>
          <option value="off">off</option>
          <option value="narrowed">narrowed</option>
        </select>
      </Field>
      {web.mode === 'narrowed' && (
        <>
          <Field label="Key web requests per call" hint={`at most ${config.requests_per_call}; empty keeps it`}>
            <input className={`${inputClass} w-24`} inputMode="numeric" value={web.requestsPerCall} onChange={(event) => onChange({ ...web, requestsPerCall: event.target.value })} />
          </Field>
          <Field label="Key injection scan">
            <select className={inputClass} value={web.scan} onChange={(event) => onChange({ ...web, scan: event.target.value as WebNarrowingDraft['scan'] })}>
              <option value="">as the sandbox config ({config.injection_scan})</option>
              {config.injection_scan === 'off' && <option value="flag">flag</option>}
              {config.injection_scan !== 'block' && <option value="block">block</option>}
            </select>
          </Field>
          {!config.https_only && (
            <label className="inline-flex items-center gap-1 text-sm">
              <input type="checkbox" checked={web.httpsOnly} onChange={(event) => onChange({ ...web, httpsOnly: event.target.checked })} />
              HTTPS only
            </label>
          )}
          {config.search && (
            <label className="inline-flex items-center gap-1 text-sm">
              <input type="checkbox" checked={web.searchOff} onChange={(event) => onChange({ ...web, searchOff: event.target.checked })} />
              No web search
            </label>
          )}
        </>
      )}
    </div>
  );
}

/** A new key, the only time it is shown: copy it, and how to call with it. */
function ShownOnce(props: { created: CreatedKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const curl = `curl -s ${window.location.origin}/v1/sandbox/execute -H 'Authorization: Bearer ${props.created.key}' -H 'Content-Type: application/json' -d '{"code": "print(1)"}'`;
  const copy = async () => {
    await navigator.clipboard.writeText(props.created.key);
    setCopied(true);
  };
  return (
    <section aria-label="New API key" className="mb-6 rounded border border-amber-300 bg-amber-50 p-4">
      <p className="mb-2 font-medium">The key "{props.created.name}", shown this once: keep it now.</p>
      <div className="flex flex-wrap items-center gap-2">
        <code data-testid="new-key" className="rounded bg-white px-2 py-1 break-all">
          {props.created.key}
        </code>
        <Button onClick={() => void copy()}>{copied ? 'Copied' : 'Copy'}</Button>
        <Button onClick={props.onDone}>Done</Button>
      </div>
      <pre className="mt-3 overflow-x-auto rounded bg-slate-900 p-3 text-xs text-slate-100">{curl}</pre>
    </section>
  );
}
