import type { MemberSummary } from '@airlock/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { get, inOrganization, post, remove } from '../api.js';
import { Button, CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { RoleSelect } from '../organization-data.js';
import { useSession } from '../session.js';

/** Who may administer the organization, with which role; owners give and take roles. */
export function MembersPage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const members = useQuery({
    queryKey: ['members', organization],
    queryFn: () => get<{ members: MemberSummary[] }>(inOrganization('/admin/v1/members', organization)),
  });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('viewer');
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['members', organization] });
  const add = useMutation({
    mutationFn: () => post<MemberSummary>(inOrganization('/admin/v1/members', organization), { email, role }),
    onSuccess: async () => {
      setEmail('');
      await refresh();
    },
  });
  const drop = useMutation({ mutationFn: (userId: string) => remove(inOrganization(`/admin/v1/members/${userId}`, organization)), onSuccess: refresh });
  return (
    <>
      <PageTitle description="Owners manage members and tokens, admins configuration and keys, viewers read.">Members</PageTitle>
      <ErrorMessage error={members.error ?? drop.error} />
      <Table
        caption="Members"
        headers={['Email', 'Role', 'From', 'Last sign-in', '']}
        rows={(members.data?.members ?? []).map((member) => [
          member.user.email,
          member.role,
          member.source === 'oidc' ? 'identity provider' : 'set by an owner',
          member.user.last_sign_in_at ? new Date(member.user.last_sign_in_at).toLocaleString() : 'never',
          can('owner') ? (
            <Button key="remove" tone="danger" onClick={() => drop.mutate(member.user.id)} aria-label={`Remove ${member.user.email}`}>
              Remove
            </Button>
          ) : null,
        ])}
        empty="No member yet: owners over every organization act here without being members."
      />
      {can('owner') && (
        <CreateForm submitLabel="Add member" pending={add.isPending} error={add.error} onSubmit={() => add.mutate()}>
          <Field label="Email">
            <input className={inputClass} type="email" value={email} onChange={(event) => setEmail(event.target.value)} required />
          </Field>
          <Field label="Role">
            <RoleSelect value={role} onChange={setRole} />
          </Field>
        </CreateForm>
      )}
    </>
  );
}
