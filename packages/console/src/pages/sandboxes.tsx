import type { SandboxSummary, WebhookSecretResponse } from '@airlock/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { get, inOrganization, patch, post, remove } from '../api.js';
import { Button, Choice, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { keyNetwork, keyStorage, keyWeb } from '../key-narrowing.js';
import { useApiKeys, useAttachments, useImages, useOrganization, useSandboxConnectors, useSandboxes } from '../organization-data.js';
import { useSession } from '../session.js';

const NETWORKS = ['blocked', 'allowlist', 'unrestricted'];
const EXECUTION_RETENTIONS = ['1h', '24h', '7d', '30d', 'forever'];
const THREAD_RETENTIONS = ['24h', '7d', '30d', 'forever'];
const STARTS = ['fresh', 'fork'] satisfies SandboxSummary['start'][];
const DOMAIN_MODES = ['blocklist', 'allowlist'];
const SCAN_MODES = ['off', 'flag', 'block'];

/** A web policy as the form edits it; numbers as typed. */
interface WebDraft {
  domain_mode: string;
  domain_entries: string;
  https_only: boolean;
  requests_per_minute: string;
  requests_per_call: string;
  max_response_bytes: string;
  injection_scan: string;
  search: boolean;
}

/** The API's defaults, which the form starts from when the web tools are turned on. */
const NEW_WEB: WebDraft = {
  domain_mode: 'blocklist',
  domain_entries: '',
  https_only: true,
  requests_per_minute: '60',
  requests_per_call: '20',
  max_response_bytes: '2097152',
  injection_scan: 'flag',
  search: true,
};

/** A sandbox config's settings as the form edits them: text, turned into the API's types when sent. */
interface Draft {
  name: string;
  image: string;
  cpu: string;
  memory_mb: string;
  network: string;
  network_allow: string;
  env_vars: string;
  timeout_max_seconds: string;
  execution_retention: string;
  thread_retention: string;
  start: string;
  /** null: the web tools are off. */
  web: WebDraft | null;
}

type TextField = Exclude<keyof Draft, 'web'>;

const NEW_DRAFT: Draft = {
  name: '',
  image: 'default',
  cpu: '1',
  memory_mb: '512',
  network: 'blocked',
  network_allow: '',
  env_vars: '',
  timeout_max_seconds: '300',
  execution_retention: '7d',
  thread_retention: '30d',
  start: 'fresh',
  web: null,
};

function draftOf(sandbox: SandboxSummary): Draft {
  return {
    name: sandbox.name,
    image: sandbox.image,
    cpu: String(sandbox.cpu),
    memory_mb: String(sandbox.memory_mb),
    network: sandbox.network,
    network_allow: sandbox.network_allow.join('\n'),
    env_vars: Object.entries(sandbox.env_vars)
      .map(([name, value]) => `${name}=${value}`)
      .join('\n'),
    timeout_max_seconds: String(sandbox.timeout_max_seconds),
    execution_retention: sandbox.execution_retention,
    thread_retention: sandbox.thread_retention,
    start: sandbox.start,
    web: sandbox.web && {
      domain_mode: sandbox.web.domains.mode,
      domain_entries: sandbox.web.domains.entries.join('\n'),
      https_only: sandbox.web.https_only,
      requests_per_minute: String(sandbox.web.requests_per_minute),
      requests_per_call: String(sandbox.web.requests_per_call),
      max_response_bytes: String(sandbox.web.max_response_bytes),
      injection_scan: sandbox.web.injection_scan,
      search: sandbox.web.search,
    },
  };
}

/** The settings the API takes; numbers stay as typed when they are not numbers, so the API's message names them. */
function settingsOf(draft: Draft) {
  const number = (text: string) => (text.trim() === '' || Number.isNaN(Number(text)) ? text : Number(text));
  const lines = (text: string) =>
    text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
  return {
    image: draft.image,
    cpu: number(draft.cpu),
    memory_mb: number(draft.memory_mb),
    network: draft.network,
    ...(draft.network === 'allowlist' && { network_allow: lines(draft.network_allow) }),
    env_vars: Object.fromEntries(
      lines(draft.env_vars).map((line) => {
        const equals = line.indexOf('=');
        return equals < 0 ? [line, ''] : [line.slice(0, equals), line.slice(equals + 1)];
      }),
    ),
    timeout_max_seconds: number(draft.timeout_max_seconds),
    execution_retention: draft.execution_retention,
    thread_retention: draft.thread_retention,
    start: draft.start,
    web: draft.web && {
      domains: { mode: draft.web.domain_mode, entries: lines(draft.web.domain_entries) },
      https_only: draft.web.https_only,
      requests_per_minute: number(draft.web.requests_per_minute),
      requests_per_call: number(draft.web.requests_per_call),
      max_response_bytes: number(draft.web.max_response_bytes),
      injection_scan: draft.web.injection_scan,
      search: draft.web.search,
    },
  };
}

/** A web policy in words; 'off' without one. */
function webPolicyText(web: SandboxSummary['web']): string {
  if (web === null) return 'off';
  const domains = web.domains.entries.length === 0 ? (web.domains.mode === 'allowlist' ? 'no host' : 'every public host') : `${web.domains.mode}: ${web.domains.entries.join(', ')}`;
  return [
    domains,
    web.https_only ? 'https only' : 'http and https',
    `${web.requests_per_minute}/min, ${web.requests_per_call} per call`,
    `answers up to ${web.max_response_bytes} bytes`,
    `scan ${web.injection_scan}`,
    web.search ? 'search' : 'no search',
  ].join('; ');
}

/** The organization's sandbox configs: every setting, created and edited by admins, and how a call's settings are made. */
export function SandboxesPage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const sandboxes = useSandboxes();
  const [editing, setEditing] = useState<string | null>(null);
  const [explained, setExplained] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['sandboxes', organization] });
  const drop = useMutation({
    mutationFn: (name: string) => remove(inOrganization(`/admin/v1/sandboxes/${name}`, organization)),
    onSuccess: refresh,
  });
  const list = sandboxes.data?.sandboxes ?? [];
  const edited = list.find((sandbox) => sandbox.name === editing);
  const shown = list.find((sandbox) => sandbox.name === explained);
  return (
    <>
      <PageTitle description="What every call of a key gets: image, CPU, memory, network, web tools, environment, timeouts, retention.">Sandboxes</PageTitle>
      <ErrorMessage error={sandboxes.error ?? drop.error} />
      <Table
        caption="Sandbox configs"
        headers={['Name', 'Image', 'CPU', 'Memory', 'Network', 'Web tools', 'Timeout at most', 'Executions kept', 'Threads kept', '']}
        rows={list.map((sandbox) => [
          <code key="name">{sandbox.name}</code>,
          sandbox.image,
          sandbox.cpu,
          `${sandbox.memory_mb} MiB`,
          sandbox.network === 'allowlist' ? `allowlist (${sandbox.network_allow.length})` : sandbox.network,
          sandbox.web ? 'on' : 'off',
          `${sandbox.timeout_max_seconds} s`,
          sandbox.execution_retention,
          sandbox.thread_retention,
          <div key="actions" className="flex flex-wrap gap-2">
            <Button onClick={() => setExplained(sandbox.name)} aria-label={`Explain how calls of ${sandbox.name} are configured`}>
              Explain
            </Button>
            {can('admin') && (
              <>
                <Button onClick={() => setEditing(sandbox.name)} aria-label={`Edit ${sandbox.name}`}>
                  Edit
                </Button>
                {sandbox.name !== 'default' && (
                  <Button tone="danger" onClick={() => drop.mutate(sandbox.name)} aria-label={`Delete ${sandbox.name}`}>
                    Delete
                  </Button>
                )}
              </>
            )}
          </div>,
        ])}
        empty="No sandbox config yet."
      />
      {shown && <ConfigurationChain sandbox={shown} onClose={() => setExplained(null)} />}
      {can('admin') &&
        (edited ? (
          <>
            <SandboxForm key={edited.name} initial={draftOf(edited)} existing onDone={() => setEditing(null)} />
            <WebhookSecret key={`secret-${edited.name}`} sandbox={edited.name} />
          </>
        ) : (
          <SandboxForm key="new" initial={NEW_DRAFT} onDone={() => undefined} />
        ))}
    </>
  );
}

/** Creates a sandbox config, or edits one (its name stays); the API's message says what it refuses. */
function SandboxForm(props: { initial: Draft; existing?: boolean; onDone: () => void }) {
  const { organization } = useSession();
  const queryClient = useQueryClient();
  const images = useImages();
  const [draft, setDraft] = useState(props.initial);
  const [saved, setSaved] = useState(false);
  const setField = (field: TextField) => (value: string) => {
    setSaved(false);
    setDraft((previous) => ({ ...previous, [field]: value }));
  };
  const setWeb = (web: WebDraft | null) => {
    setSaved(false);
    setDraft((previous) => ({ ...previous, web }));
  };
  const set = (field: TextField) => (event: { target: { value: string } }) => setField(field)(event.target.value);
  const save = useMutation({
    mutationFn: () =>
      props.existing
        ? patch<SandboxSummary>(inOrganization(`/admin/v1/sandboxes/${draft.name}`, organization), settingsOf(draft))
        : post<SandboxSummary>(inOrganization('/admin/v1/sandboxes', organization), { name: draft.name, ...settingsOf(draft) }),
    onSuccess: async () => {
      setSaved(true);
      if (!props.existing) setDraft(NEW_DRAFT);
      await queryClient.invalidateQueries({ queryKey: ['sandboxes', organization] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const ready = (images.data?.images ?? []).filter((image) => image.status === 'ready' || image.name === draft.image);
  return (
    <form
      onSubmit={submit}
      aria-label={props.existing ? `Edit ${draft.name}` : 'New sandbox config'}
      className="mt-6 rounded border border-slate-200 bg-white p-4"
    >
      <h2 className="mb-3 text-lg font-semibold">{props.existing ? `Edit ${draft.name}` : 'New sandbox config'}</h2>
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
        {!props.existing && (
          <Field label="Name" hint="lowercase letters, digits and dashes">
            <input className={inputClass} value={draft.name} onChange={set('name')} required />
          </Field>
        )}
        <Field label="Image">
          <select className={inputClass} value={draft.image} onChange={set('image')}>
            {(ready.length > 0 ? ready.map((image) => image.name) : [draft.image]).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="CPU (cores)" hint="0.5 to 4">
          <input className={inputClass} inputMode="decimal" value={draft.cpu} onChange={set('cpu')} />
        </Field>
        <Field label="Memory (MiB)" hint="128 to 16384">
          <input className={inputClass} inputMode="numeric" value={draft.memory_mb} onChange={set('memory_mb')} />
        </Field>
        <Field label="Longest timeout (s)" hint="a call's timeout may not ask for more">
          <input className={inputClass} inputMode="numeric" value={draft.timeout_max_seconds} onChange={set('timeout_max_seconds')} />
        </Field>
        <Field label="Network">
          <Choice value={draft.network} onChange={setField('network')} choices={NETWORKS} />
        </Field>
        <Field label="Executions kept">
          <Choice value={draft.execution_retention} onChange={setField('execution_retention')} choices={EXECUTION_RETENTIONS} />
        </Field>
        <Field label="Threads kept">
          <Choice value={draft.thread_retention} onChange={setField('thread_retention')} choices={THREAD_RETENTIONS} />
        </Field>
        <Field label="Interpreter start" hint="fork: python without network forks a template that has numpy, pandas and matplotlib imported (much faster); the rest starts fresh">
          <Choice value={draft.start} onChange={setField('start')} choices={STARTS} />
        </Field>
        {draft.network === 'allowlist' && (
          <Field label="Allowed destinations" hint="one per line: api.example.com, *.example.com, 198.51.100.0/24">
            <textarea className={`${inputClass} h-24 font-mono`} value={draft.network_allow} onChange={set('network_allow')} />
          </Field>
        )}
        <Field label="Environment variables" hint="one NAME=value per line; a key's and a call's variables override these">
          <textarea className={`${inputClass} h-24 font-mono`} value={draft.env_vars} onChange={set('env_vars')} />
        </Field>
      </div>
      <WebFields web={draft.web} onChange={setWeb} />
      <div className="mt-3 flex items-center gap-2">
        <Button tone="primary" type="submit" disabled={save.isPending}>
          {props.existing ? 'Save changes' : 'Create sandbox config'}
        </Button>
        {props.existing && <Button onClick={props.onDone}>Close</Button>}
        {saved && (
          <p role="status" className="text-sm text-green-800">
            Saved.
          </p>
        )}
      </div>
      <ErrorMessage error={save.error} />
    </form>
  );
}

/** The web tools of a sandbox config: off, or on with their policy. */
function WebFields(props: { web: WebDraft | null; onChange: (web: WebDraft | null) => void }) {
  const { web, onChange } = props;
  const change = (field: keyof WebDraft) => (value: string | boolean) => web && onChange({ ...web, [field]: value });
  const text = (field: keyof WebDraft) => (event: { target: { value: string } }) => change(field)(event.target.value);
  return (
    <fieldset className="mt-4 border-t border-slate-200 pt-3">
      <legend className="sr-only">Web tools</legend>
      <label className="inline-flex items-center gap-2 text-sm font-medium">
        <input type="checkbox" checked={web !== null} onChange={(event) => onChange(event.target.checked ? NEW_WEB : null)} />
        Web tools
      </label>
      <span className="ml-2 text-sm text-slate-500">web-fetch and web-search, through the server, whatever the network</span>
      {web && (
        <div className="mt-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
          <Field label="Domains">
            <Choice value={web.domain_mode} onChange={change('domain_mode')} choices={DOMAIN_MODES} />
          </Field>
          <Field
            label={web.domain_mode === 'allowlist' ? 'Allowed hosts' : 'Blocked hosts'}
            hint="one per line: docs.python.org, *.example.com, 198.51.100.0/24; private addresses are never fetched"
          >
            <textarea className={`${inputClass} h-24 font-mono`} value={web.domain_entries} onChange={text('domain_entries')} />
          </Field>
          <Field label="Requests per minute" hint="of one key, 1 to 600">
            <input className={inputClass} inputMode="numeric" value={web.requests_per_minute} onChange={text('requests_per_minute')} />
          </Field>
          <Field label="Requests per call" hint="1 to 500">
            <input className={inputClass} inputMode="numeric" value={web.requests_per_call} onChange={text('requests_per_call')} />
          </Field>
          <Field label="Largest answer (bytes)" hint="1024 to 10485760; a longer one is cut">
            <input className={inputClass} inputMode="numeric" value={web.max_response_bytes} onChange={text('max_response_bytes')} />
          </Field>
          <Field label="Injection scan" hint="flag marks a suspicious page, block withholds it">
            <Choice value={web.injection_scan} onChange={change('injection_scan')} choices={SCAN_MODES} />
          </Field>
          <label className="inline-flex items-center gap-2 text-sm">
            <input type="checkbox" checked={web.https_only} onChange={(event) => change('https_only')(event.target.checked)} />
            HTTPS only, at every redirect too
          </label>
          <label className="inline-flex items-center gap-2 text-sm">
            <input type="checkbox" checked={web.search} onChange={(event) => change('search')(event.target.checked)} />
            Search allowed (through the organization's search provider)
          </label>
        </div>
      )}
    </fieldset>
  );
}

/** The secret that signs the sandbox config's webhook deliveries: shown on demand (the read is audited), or replaced. */
function WebhookSecret(props: { sandbox: string }) {
  const { organization } = useSession();
  const path = `/admin/v1/sandboxes/${props.sandbox}/webhook-secret`;
  const show = useMutation({ mutationFn: () => get<WebhookSecretResponse>(inOrganization(path, organization)) });
  const rotate = useMutation({ mutationFn: () => post<WebhookSecretResponse>(inOrganization(`${path}/rotate`, organization)) });
  const secret = rotate.data?.secret ?? show.data?.secret;
  return (
    <section aria-label="Webhook signing secret" className="mt-4 rounded border border-slate-200 bg-white p-4">
      <h2 className="mb-2 text-lg font-semibold">Webhook signing secret</h2>
      <p className="mb-3 text-sm text-slate-600">Receivers verify deliveries of {props.sandbox}'s executions with it (Standard Webhooks).</p>
      <div className="flex flex-wrap items-center gap-2">
        <Button onClick={() => show.mutate()} disabled={show.isPending}>
          Show secret
        </Button>
        <Button tone="danger" onClick={() => rotate.mutate()} disabled={rotate.isPending}>
          Rotate secret
        </Button>
        {secret && (
          <code data-testid="webhook-secret" className="rounded bg-slate-100 px-2 py-1 break-all">
            {secret}
          </code>
        )}
      </div>
      <ErrorMessage error={show.error ?? rotate.error} />
    </section>
  );
}

/** How each setting of a call is made: the sandbox config, then what a key narrows, then what the request asks. */
function ConfigurationChain(props: { sandbox: SandboxSummary; onClose: () => void }) {
  const settings = useOrganization();
  const { sandbox } = props;
  const keys = useApiKeys();
  const attachments = useAttachments(sandbox.name);
  const connectors = useSandboxConnectors(sandbox.name);
  const planLimit = settings.data?.max_timeout_seconds;
  const own = (keys.data?.api_keys ?? []).filter((key) => key.sandbox_config_id === sandbox.id && !key.revoked_at);
  const mounts = attachments.data?.attachments ?? [];
  const attached = connectors.data?.connectors ?? [];
  const rows: [string, string, string, string][] = [
    ['Image, CPU, memory', `${sandbox.image}, ${sandbox.cpu} ${sandbox.cpu === 1 ? 'core' : 'cores'}, ${sandbox.memory_mb} MiB`, 'kept', 'kept'],
    [
      'Timeout',
      `at most ${sandbox.timeout_max_seconds} s${planLimit ? ` (the organization's plan: at most ${planLimit} s)` : ''}`,
      'kept',
      'its timeout, within both limits (refused above them)',
    ],
    [
      'Network',
      sandbox.network === 'allowlist' ? `allowlist: ${sandbox.network_allow.join(', ')}` : sandbox.network,
      "may narrow to 'blocked', or to an allowlist within this one",
      'kept',
    ],
    [
      'Environment',
      Object.keys(sandbox.env_vars).sort().join(', ') || 'none',
      "the key's variables override these",
      'its env_vars override both',
    ],
    [
      'Storage at /data',
      mounts.map((mount) => `${mount.path}${mount.read_only ? ' (read-only)' : ''}`).join(', ') || 'none',
      'may detach a mount, make it read-only, or keep a deeper prefix',
      'its sub_paths narrow further',
    ],
    ['Connectors', attached.map((connector) => connector.name).join(', ') || 'none', 'may keep fewer, never add one', 'kept'],
    [
      'Web tools',
      webPolicyText(sandbox.web),
      'may turn them off, keep an allowlist within these hosts, lower the limits, require https, make the scan stricter, turn search off',
      'kept',
    ],
  ];
  return (
    <section aria-label={`How calls of ${sandbox.name} are configured`} className="mt-6 rounded border border-slate-200 bg-white p-4">
      <div className="mb-3 flex items-center justify-between">
        <h2 className="text-lg font-semibold">How a call of {sandbox.name} is configured</h2>
        <Button onClick={props.onClose}>Close</Button>
      </div>
      <p className="mb-3 text-sm text-slate-600">
        Each call starts from the sandbox config; its API key may only narrow it, and the request may narrow it further or
        choose within it.
      </p>
      <ErrorMessage error={keys.error ?? attachments.error ?? connectors.error} />
      <Table caption="Configuration chain" headers={['Setting', 'Sandbox config', 'API key', 'Request']} rows={rows} empty="" />
      <h3 className="mt-4 mb-2 font-medium">Its keys</h3>
      <Table
        caption="Keys of this sandbox config"
        headers={['Key', 'Network', 'Storage', 'Connectors', 'Web tools']}
        rows={own.map((key) => [
          key.name,
          keyNetwork(key, sandbox),
          keyStorage(key),
          key.connectors === null ? 'all' : key.connectors.join(', ') || 'none',
          key.web === null ? 'as the config' : keyWeb(key.web),
        ])}
        empty="No active key uses this sandbox config."
      />
    </section>
  );
}
