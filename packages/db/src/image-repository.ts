import type { Database } from './database.js';

export type ImageSourceKind = 'recipe' | 'registry' | 'archive';
export type ImageStatus = 'pending' | 'ready' | 'failed' | 'not_built';

/** A runtime image of the installation's catalog, as stored. */
export interface ImageRecord {
  name: string;
  source: ImageSourceKind;
  /** registry images: the reference pulled. */
  reference: string | null;
  tlsVerify: boolean;
  /** registry images with credentials: {username, password} sealed by the server. */
  sealedCredentials: string | null;
  username: string | null;
  status: ImageStatus;
  error: string | null;
  /** The runtime's image manifest once ready. */
  manifest: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Where an import or build takes an image from; recorded when it starts. */
export interface ImageOrigin {
  source: ImageSourceKind;
  reference?: string | null;
  tlsVerify?: boolean;
  sealedCredentials?: string | null;
  username?: string | null;
}

interface ImageRow {
  name: string;
  source: ImageSourceKind;
  reference: string | null;
  tls_verify: boolean;
  sealed_credentials: string | null;
  username: string | null;
  status: ImageStatus;
  error: string | null;
  manifest: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

const SELECT_LIST = 'name, source, reference, tls_verify, sealed_credentials, username, status, error, manifest, created_at, updated_at';

function toImage(row: ImageRow): ImageRecord {
  return {
    name: row.name,
    source: row.source,
    reference: row.reference,
    tlsVerify: row.tls_verify,
    sealedCredentials: row.sealed_credentials,
    username: row.username,
    status: row.status,
    error: row.error,
    manifest: row.manifest,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The names, as `organization/sandbox`, of the live sandbox configs naming an image (`$1`). */
const USING_SANDBOXES_SQL = `SELECT coalesce(array_agg(o.slug || '/' || c.name ORDER BY o.slug, c.name), '{}') AS names
  FROM sandbox_configs c JOIN organizations o ON o.id = c.org_id
  WHERE c.image = $1 AND c.deleted_at IS NULL`;

export class ImageRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  async list(): Promise<ImageRecord[]> {
    return (await this.#database.query<ImageRow>(`SELECT ${SELECT_LIST} FROM images ORDER BY name`)).map(toImage);
  }

  async get(name: string): Promise<ImageRecord | null> {
    const [row] = await this.#database.query<ImageRow>(`SELECT ${SELECT_LIST} FROM images WHERE name = $1`, [name]);
    return row ? toImage(row) : null;
  }

  /** Adds a recipe image to the catalog (not built) unless the catalog has that name. */
  async addRecipe(name: string): Promise<void> {
    await this.#database.query(
      `INSERT INTO images (name, source, status) VALUES ($1, 'recipe', 'not_built') ON CONFLICT (name) DO NOTHING`,
      [name],
    );
  }

  /**
   * Records that an import or build of `name` starts: a new image, or one not pending already (its origin is replaced,
   * its manifest kept until the new version is ready). Null when the image is pending already, or when a recipe image
   * would become an import or an import a recipe.
   */
  async begin(name: string, origin: ImageOrigin): Promise<ImageRecord | null> {
    const [row] = await this.#database.query<ImageRow>(
      `INSERT INTO images AS i (name, source, reference, tls_verify, sealed_credentials, username, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending')
       ON CONFLICT (name) DO UPDATE SET source = excluded.source, reference = excluded.reference,
         tls_verify = excluded.tls_verify, sealed_credentials = excluded.sealed_credentials, username = excluded.username,
         status = 'pending', error = NULL, updated_at = now()
       WHERE i.status <> 'pending' AND (i.source = 'recipe') = (excluded.source = 'recipe')
       RETURNING ${SELECT_LIST}`,
      [
        name,
        origin.source,
        origin.reference ?? null,
        origin.tlsVerify ?? true,
        origin.sealedCredentials ?? null,
        origin.username ?? null,
      ],
    );
    return row ? toImage(row) : null;
  }

  /** A recipe image this server has not built (its manifest, of another version, is kept). */
  async markNotBuilt(name: string): Promise<void> {
    await this.#database.query(`UPDATE images SET status = 'not_built', error = NULL, updated_at = now() WHERE name = $1`, [name]);
  }

  async markReady(name: string, manifest: object): Promise<void> {
    await this.#database.query(
      `UPDATE images SET status = 'ready', error = NULL, manifest = $2::jsonb, updated_at = now() WHERE name = $1`,
      [name, JSON.stringify(manifest)],
    );
  }

  /** A failed import or build; an image that was ready before keeps its manifest (the old version still runs). */
  async markFailed(name: string, error: string): Promise<void> {
    await this.#database.query(`UPDATE images SET status = 'failed', error = $2, updated_at = now() WHERE name = $1`, [name, error]);
  }

  /** Marks every pending image failed with `error` (a server stopped during their import); returns their names. */
  async failPending(error: string): Promise<string[]> {
    const rows = await this.#database.query<{ name: string }>(
      `UPDATE images SET status = 'failed', error = $1, updated_at = now() WHERE status = 'pending' AND source <> 'recipe' RETURNING name`,
      [error],
    );
    return rows.map((row) => row.name);
  }

  /** The live sandbox configs naming the image, as `organization/sandbox`. */
  async usedBy(name: string): Promise<string[]> {
    const [row] = await this.#database.query<{ names: string[] }>(USING_SANDBOXES_SQL, [name]);
    return row?.names ?? [];
  }

  /**
   * Deletes the image from the catalog unless a live sandbox config names it: then nothing changes and `usedBy` names
   * them. `deleted` is false when there was no such image.
   */
  async delete(name: string): Promise<{ deleted: boolean; usedBy: string[] }> {
    return this.#database.transaction(async (tx) => {
      const [image] = await tx.query<{ name: string }>('SELECT name FROM images WHERE name = $1 FOR UPDATE', [name]);
      if (!image) return { deleted: false, usedBy: [] };
      const [using] = await tx.query<{ names: string[] }>(USING_SANDBOXES_SQL, [name]);
      if (using && using.names.length > 0) return { deleted: false, usedBy: using.names };
      await tx.query('DELETE FROM images WHERE name = $1', [name]);
      return { deleted: true, usedBy: [] };
    });
  }

  /** Locks the image's catalog row against deletion for the rest of `tx`; false when there is no such image. */
  static async lockShared(tx: Pick<Database, 'query'>, name: string): Promise<boolean> {
    const rows = await tx.query<{ name: string }>('SELECT name FROM images WHERE name = $1 FOR SHARE', [name]);
    return rows.length === 1;
  }
}
