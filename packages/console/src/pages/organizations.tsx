import type { OrganizationListResponse, OrganizationSummary } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { get, post, remove } from '../api.js';
import { Button, CreateForm, ErrorMessage, Field, Table, inputClass } from '../components.js';
import { downloadJsonLines, fileTimestamp } from '../download.js';
import { useSession } from '../session.js';

/** The organization every instance has: never deleted nor erased. */
const DEFAULT_ORGANIZATION = 'default';

/** What `POST /admin/v1/organizations/{slug}/erase` answers. */
interface EraseAnswer {
  erased: Record<string, number>;
  volume_files_removed: boolean;
}

const organizationPath = (slug: string) => `/admin/v1/organizations/${encodeURIComponent(slug)}`;

/** Every organization of the instance: created, and deleted once no unrevoked key uses it (never `default`). */
export function Organizations() {
  const queryClient = useQueryClient();
  const organizations = useQuery({ queryKey: ['organizations'], queryFn: () => get<OrganizationListResponse>('/admin/v1/organizations') });
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [maxTimeout, setMaxTimeout] = useState('');
  // The header's organization picker lists what /admin/v1/me answers.
  const refresh = () =>
    Promise.all([queryClient.invalidateQueries({ queryKey: ['organizations'] }), queryClient.invalidateQueries({ queryKey: ['me'] })]);
  const create = useMutation({
    mutationFn: () =>
      post<OrganizationSummary>('/admin/v1/organizations', { name, slug, ...(maxTimeout && { max_timeout_seconds: Number(maxTimeout) }) }),
    onSuccess: async () => {
      setName('');
      setSlug('');
      setMaxTimeout('');
      await refresh();
    },
  });
  const deletion = useMutation({ mutationFn: (target: string) => remove(organizationPath(target)), onSuccess: refresh });
  const listed = organizations.data?.organizations ?? [];
  // A refusal to delete is shown while its organization is listed.
  const refusal = listed.some((organization) => organization.slug === deletion.variables) ? deletion.error : null;
  return (
    <section aria-label="Organizations" className="mb-8">
      <h2 className="mb-2 text-lg font-medium">Organizations</h2>
      <p className="mb-3 text-sm text-slate-600">
        An organization is deleted once none of its API keys is unrevoked; its sandbox configs go with it, its executions
        stay until their retention ends. The default organization stays.
      </p>
      <ErrorMessage error={organizations.error ?? refusal} />
      <Table
        caption="Organizations"
        headers={['Name', 'Slug', 'Longest timeout', 'Audit kept', 'Created', '']}
        rows={listed.map((organization) => [
          organization.name,
          <code key="slug">{organization.slug}</code>,
          `${organization.max_timeout_seconds} s`,
          `${organization.audit_retention_days} days`,
          new Date(organization.created_at).toLocaleString(),
          organization.slug === DEFAULT_ORGANIZATION ? (
            ''
          ) : (
            <Button
              key="delete"
              tone="danger"
              disabled={deletion.isPending}
              onClick={() => deletion.mutate(organization.slug)}
              aria-label={`Delete organization ${organization.slug}`}
            >
              Delete
            </Button>
          ),
        ])}
        empty="No organization."
      />
      <CreateForm submitLabel="Create organization" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
        <Field label="Organization name">
          <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
        </Field>
        <Field label="Organization slug" hint="lowercase letters, digits and dashes">
          <input className={inputClass} value={slug} onChange={(event) => setSlug(event.target.value)} required />
        </Field>
        <Field label="Plan timeout (seconds)" hint="the longest timeout its executions may ask for; 3600 when empty">
          <input className={inputClass} type="number" value={maxTimeout} onChange={(event) => setMaxTimeout(event.target.value)} placeholder="3600" />
        </Field>
      </CreateForm>
    </section>
  );
}

/** The current organization's data as a whole: exported as JSON Lines, or erased once its slug is typed again. */
export function AccountData() {
  const { organization } = useSession();
  // Kept here, not in the form: the answer stays shown once the erased organization is no longer the current one.
  const [erasure, setErasure] = useState<{ organization: string; answer: EraseAnswer } | null>(null);
  const exported = useMutation({
    mutationFn: () => downloadJsonLines(`${organizationPath(organization)}/export`, `airlock-${organization}-${fileTimestamp()}.jsonl`),
  });
  return (
    <section aria-label="Organization data" className="mb-8">
      <h2 className="mb-2 text-lg font-medium">Organization data</h2>
      <p className="mb-3 text-sm text-slate-600">
        The export holds the organization, its sandbox configs, API keys, connectors and storage connections (no secrets),
        volumes, members, its executions within their retention (code and output) and its audit log, one JSON object a line.
      </p>
      <Button onClick={() => exported.mutate()} disabled={exported.isPending}>
        Export {organization} as JSON Lines
      </Button>
      <ErrorMessage error={exported.error} />
      {organization !== DEFAULT_ORGANIZATION && erasure?.organization !== organization && (
        <EraseOrganization key={organization} organization={organization} onErased={(answer) => setErasure({ organization, answer })} />
      )}
      {erasure && <ErasureReport organization={erasure.organization} answer={erasure.answer} current={erasure.organization === organization} />}
    </section>
  );
}

/** The danger zone: erasing cannot be undone, so the slug is typed again before the button enables. */
function EraseOrganization(props: { organization: string; onErased: (answer: EraseAnswer) => void }) {
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState('');
  const erase = useMutation({
    mutationFn: () => post<EraseAnswer>(`${organizationPath(props.organization)}/erase`, { confirm }),
    onSuccess: async (answer) => {
      props.onErased(answer);
      await Promise.all([queryClient.invalidateQueries({ queryKey: ['organizations'] }), queryClient.invalidateQueries({ queryKey: ['me'] })]);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    erase.mutate();
  };
  return (
    <form onSubmit={submit} aria-label={`Erase ${props.organization}`} className="mt-6 rounded border border-red-300 bg-red-50/40 p-4">
      <h3 className="font-medium text-red-900">Erase {props.organization}</h3>
      <p className="mb-3 text-sm text-slate-700">
        Revokes its API keys and deletes its executions, threads, connectors, storage connections, memberships and volume
        files; its sandbox configs and the organization itself are marked deleted. Refused while it runs executions. Its
        audit log stays until its retention ends. This cannot be undone.
      </p>
      <div className="flex flex-wrap items-end gap-3">
        <Field label={`Type ${props.organization} to confirm`}>
          <input className={inputClass} value={confirm} onChange={(event) => setConfirm(event.target.value)} autoComplete="off" />
        </Field>
        <Button tone="danger" type="submit" disabled={confirm !== props.organization || erase.isPending}>
          Erase {props.organization}
        </Button>
      </div>
      <ErrorMessage error={erase.error} />
    </form>
  );
}

/** What an erasure removed, as the API counted it. */
function ErasureReport(props: { organization: string; answer: EraseAnswer; current: boolean }) {
  const erased = Object.entries(props.answer.erased).filter(([, count]) => count > 0);
  return (
    <div role="status" aria-label={`Erasure of ${props.organization}`} className="mt-6 rounded border border-slate-200 bg-white p-4 text-sm">
      <p className="text-green-800">
        Erased {props.organization}: {erased.length > 0 ? erased.map(([kind, count]) => `${count} ${kind.replaceAll('_', ' ')}`).join(', ') : 'it held nothing'}.
        {props.current && ' Choose another organization in the header.'}
      </p>
      {!props.answer.volume_files_removed && (
        <p className="text-red-800">Its volume files could not be removed (the server logged why); remove them by hand.</p>
      )}
    </div>
  );
}
