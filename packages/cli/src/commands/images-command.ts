import { ImageStore } from '@airlock/runtime';
import { loadConfig } from '@airlock/server';

function imageStore(options: { dataDir?: string }): ImageStore {
  const config = loadConfig({ dataDirectory: options.dataDir });
  return new ImageStore({ directory: config.imagesDirectory, mirror: config.imageMirror });
}

export async function imagesBuildCommand(options: { dataDir?: string; force?: boolean }): Promise<void> {
  const image = await imageStore(options).build('default', {
    force: options.force ?? false,
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${image.manifest.name} ${image.manifest.version} ${image.rootfs}\n`);
}

export async function imagesListCommand(options: { dataDir?: string }): Promise<void> {
  for (const { manifest, rootfs, current } of await imageStore(options).list()) {
    const languages = Object.entries(manifest.languages)
      .map(([language, entry]) => `${language}: ${entry.version}`)
      .join('; ');
    process.stdout.write(
      `${manifest.name}\t${manifest.version}${current ? ' (current)' : ''}\t${Math.round(manifest.sizeBytes / 1e6)} MB\tbuilt ${manifest.builtAt}\t${languages}\t${rootfs}\n`,
    );
  }
}
