import type { ImageSummary } from '@airlock/contracts';
import { useQuery } from '@tanstack/react-query';
import { get } from '../api.js';
import { ErrorMessage, PageTitle, Table } from '../components.js';
import { useImages } from '../organization-data.js';

/** The installation's runtime images: their state, languages and size. */
export function ImagesPage() {
  const images = useImages();
  return (
    <>
      <PageTitle description="The root file systems sandboxes run in, shared by every organization.">Images</PageTitle>
      <ErrorMessage error={images.error} />
      <Table
        caption="Images"
        headers={['Name', 'Source', 'State', 'Languages', 'Architecture', 'Size', 'Used by']}
        rows={(images.data?.images ?? []).map((image) => [
          <code key="name">{image.name}</code>,
          image.reference ?? image.source,
          image.error ? `${image.status}: ${image.error}` : image.status,
          Object.entries(image.manifest?.languages ?? {})
            .map(([language, details]) => `${language} ${/\d+(\.\d+)+/.exec(details?.version ?? '')?.[0] ?? ''}`.trim())
            .join(', '),
          image.manifest?.architecture ?? '',
          image.manifest ? `${(image.manifest.size_bytes / 1048576).toFixed(0)} MiB` : '',
          image.used_by.join(', '),
        ])}
        empty="No image."
      />
    </>
  );
}
