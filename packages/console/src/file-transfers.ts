import type { FileDeleteResponse, FilesListResponse, SignedUrlResponse } from '@airlock/contracts';
import { apiFailure, inOrganization, post } from './api.js';

/** A thread's home or a volume, as the admin Files endpoints name it. */
export interface FileSource {
  source: 'thread' | 'volume';
  id: string;
}

/** `name` inside the directory `directory` ("" for the top). */
const joinPath = (directory: string, name: string) => (directory === '' ? name : `${directory}/${name}`);

/** The entries right inside `directory`, directories first, then by name, from a listing of its whole subtree. */
export async function listDirectory(organization: string, source: FileSource, directory: string): Promise<FilesListResponse['files']> {
  const { files } = await post<FilesListResponse>(inOrganization('/admin/v1/files/list', organization), {
    ...source,
    ...(directory !== '' && { path: directory }),
  });
  const prefix = directory === '' ? '' : `${directory}/`;
  return files
    .filter((entry) => entry.path.startsWith(prefix) && !entry.path.slice(prefix.length).includes('/'))
    .sort((a, b) => Number(b.is_directory) - Number(a.is_directory) || a.name.localeCompare(b.name));
}

/** Uploads a file of the browser into `directory`: a signed URL from the server, then the bytes PUT straight to it. */
export async function uploadFile(organization: string, source: FileSource, directory: string, file: File): Promise<void> {
  const signed = await post<SignedUrlResponse>(inOrganization('/admin/v1/files/upload_url', organization), {
    ...source,
    path: joinPath(directory, file.name),
    content_length: file.size,
    ...(file.type !== '' && { content_type: file.type }),
  });
  const response = await fetch(signed.url, {
    method: signed.method,
    headers: signed.headers.map((header) => [header.name, header.value]),
    body: file,
  });
  if (!response.ok) {
    throw await apiFailure(response);
  }
}

/** Saves a file in the browser's downloads: the browser follows a signed URL, which answers with the file as an attachment. */
export async function downloadFile(organization: string, source: FileSource, path: string): Promise<void> {
  const signed = await post<SignedUrlResponse>(inOrganization('/admin/v1/files/download_url', organization), { ...source, path });
  const link = document.createElement('a');
  link.href = signed.url;
  link.download = path.slice(path.lastIndexOf('/') + 1);
  link.click();
}

export function deleteFile(organization: string, source: FileSource, path: string): Promise<FileDeleteResponse> {
  return post<FileDeleteResponse>(inOrganization('/admin/v1/files/delete', organization), { ...source, path });
}
