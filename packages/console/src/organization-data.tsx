import type { SandboxSummary } from '@airlock/contracts';
import { useQuery } from '@tanstack/react-query';
import type { SelectHTMLAttributes } from 'react';
import { get, inOrganization } from './api.js';
import { inputClass } from './components.js';
import { useSession } from './session.js';

/** The organization's sandbox configs, shared by every page that names one. */
export function useSandboxes() {
  const { organization } = useSession();
  return useQuery({
    queryKey: ['sandboxes', organization],
    queryFn: () => get<{ sandboxes: SandboxSummary[] }>(inOrganization('/admin/v1/sandboxes', organization)),
  });
}

/** A choice of one of the organization's sandbox configs, by name. */
export function SandboxSelect(props: Omit<SelectHTMLAttributes<HTMLSelectElement>, 'onChange'> & { onChange: (name: string) => void }) {
  const sandboxes = useSandboxes();
  const { onChange, className = '', ...rest } = props;
  return (
    <select className={`${inputClass} ${className}`} onChange={(event) => onChange(event.target.value)} {...rest}>
      {(sandboxes.data?.sandboxes ?? []).map((sandbox) => (
        <option key={sandbox.id} value={sandbox.name}>
          {sandbox.name}
        </option>
      ))}
    </select>
  );
}

/** A choice of role. */
export function RoleSelect(props: Omit<SelectHTMLAttributes<HTMLSelectElement>, 'onChange'> & { onChange: (role: string) => void }) {
  const { onChange, ...rest } = props;
  return (
    <select className={inputClass} onChange={(event) => onChange(event.target.value)} {...rest}>
      <option value="viewer">viewer</option>
      <option value="admin">admin</option>
      <option value="owner">owner</option>
    </select>
  );
}
