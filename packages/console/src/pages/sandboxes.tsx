import type { SandboxSummary } from '@airlock/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { inOrganization, post } from '../api.js';
import { CreateForm, ErrorMessage, Field, PageTitle, Table, inputClass } from '../components.js';
import { useSandboxes } from '../organization-data.js';
import { useSession } from '../session.js';

/** The organization's sandbox configs; admins create them. */
export function SandboxesPage() {
  const { organization, can } = useSession();
  const queryClient = useQueryClient();
  const sandboxes = useSandboxes();
  const [name, setName] = useState('');
  const [network, setNetwork] = useState('blocked');
  const create = useMutation({
    mutationFn: () => post<SandboxSummary>(inOrganization('/admin/v1/sandboxes', organization), { name, network }),
    onSuccess: async () => {
      setName('');
      await queryClient.invalidateQueries({ queryKey: ['sandboxes', organization] });
    },
  });
  return (
    <>
      <PageTitle description="What every call of a key gets: image, CPU, memory, network, environment, retention.">Sandboxes</PageTitle>
      <ErrorMessage error={sandboxes.error} />
      <Table
        caption="Sandbox configs"
        headers={['Name', 'Image', 'CPU', 'Memory', 'Network', 'Executions kept']}
        rows={(sandboxes.data?.sandboxes ?? []).map((sandbox) => [
          <code key="name">{sandbox.name}</code>,
          sandbox.image,
          sandbox.cpu,
          `${sandbox.memory_mb} MiB`,
          sandbox.network,
          sandbox.execution_retention,
        ])}
        empty="No sandbox config yet."
      />
      {can('admin') && (
        <CreateForm submitLabel="Create sandbox config" pending={create.isPending} error={create.error} onSubmit={() => create.mutate()}>
          <Field label="Name" hint="lowercase letters, digits and dashes">
            <input className={inputClass} value={name} onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label="Network">
            <select className={inputClass} value={network} onChange={(event) => setNetwork(event.target.value)}>
              <option value="blocked">blocked</option>
              <option value="unrestricted">unrestricted</option>
            </select>
          </Field>
        </CreateForm>
      )}
    </>
  );
}
