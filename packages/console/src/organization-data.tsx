import type { ApiKeySummary, AttachmentSummary, ConnectorSummary, ImageSummary, OrganizationSummary, SandboxSummary, VolumeSummary } from '@airlock/contracts';
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

/** The organization's API keys, revoked ones included. */
export function useApiKeys() {
  const { organization } = useSession();
  return useQuery({
    queryKey: ['api-keys', organization],
    queryFn: () => get<{ api_keys: ApiKeySummary[] }>(inOrganization('/admin/v1/api-keys', organization)),
  });
}

/** The organization's managed volumes. */
export function useVolumes() {
  const { organization } = useSession();
  return useQuery({
    queryKey: ['volumes', organization],
    queryFn: () => get<{ volumes: VolumeSummary[] }>(inOrganization('/admin/v1/volumes', organization)),
  });
}

/** What a sandbox config mounts at /data. */
export function useAttachments(sandbox: string) {
  const { organization } = useSession();
  return useQuery({
    queryKey: ['attachments', organization, sandbox],
    queryFn: () => get<{ attachments: AttachmentSummary[] }>(inOrganization(`/admin/v1/sandboxes/${sandbox}/attachments`, organization)),
  });
}

/** The connectors a sandbox config's calls get. */
export function useSandboxConnectors(sandbox: string) {
  const { organization } = useSession();
  return useQuery({
    queryKey: ['sandbox-connectors', organization, sandbox],
    queryFn: () => get<{ connectors: ConnectorSummary[] }>(inOrganization(`/admin/v1/sandboxes/${sandbox}/connectors`, organization)),
  });
}

/** The organization's own settings. */
export function useOrganization() {
  const { organization } = useSession();
  return useQuery({
    queryKey: ['organization', organization],
    queryFn: () => get<OrganizationSummary>(`/admin/v1/organizations/${encodeURIComponent(organization)}`),
    retry: false,
  });
}

/** The instance's image catalog; with `followWork`, asked again every second while an image is built or imported. */
export function useImages(options: { followWork?: boolean } = {}) {
  return useQuery({
    queryKey: ['images'],
    queryFn: () => get<{ images: ImageSummary[] }>('/admin/v1/images'),
    refetchInterval: (query) => (options.followWork && query.state.data?.images.some((image) => image.status === 'pending') ? 1000 : false),
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
