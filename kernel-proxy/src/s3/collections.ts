import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import type { S3Connection } from './connections.js';
import { S3Error } from './errors.js';
import { bucketUrl, sqlString } from './location.js';

/** Where a bucket's objects are, for a ClickHouse s3() call: a named collection and the filename prefix. */
export interface CollectionRef {
  collection: string;
  /** Prepended to the (encoded) key to make the collection's `filename`. */
  filenamePrefix: string;
}

/**
 * The connections' keys live in ClickHouse named collections, created by the proxy:
 *
 *   CREATE NAMED COLLECTION s3_default AS url = 'http://endpoint/' NOT OVERRIDABLE,
 *     access_key_id = '…' NOT OVERRIDABLE, secret_access_key = '…' NOT OVERRIDABLE
 *
 * so a SQL cell reads `s3(s3_default, filename = 'bucket/path/*.parquet')` and never holds a key, and the
 * proxy's own previews and imports bind only a filename and a format. ClickHouse shows the values of a
 * collection as [HIDDEN] (system.named_collections), refuses to override the url (so the keys cannot be sent
 * to another host) and masks them in its logs. `s3_<name>` is path-style (url = the endpoint); for a
 * virtual-hosted connection the proxy adds one internal collection per bucket (url = https://bucket.host/).
 * With embedded chDB they are dropped again when the proxy stops.
 */
export class S3Collections {
  private readonly created = new Map<string, Promise<void>>();

  constructor(
    private readonly engine: ClickHouseEngine,
    private readonly log: Logger,
    private readonly cluster?: string,
  ) {}

  /** The collection SQL cells use for this connection (created if needed). */
  async ensure(connection: S3Connection): Promise<string> {
    await this.create(connection.collection, `${connection.endpoint}/`, connection);
    return connection.collection;
  }

  /** The collection and filename prefix for reading objects of `bucket`. */
  async forBucket(connection: S3Connection, bucket: string): Promise<CollectionRef> {
    if (connection.urlStyle === 'path') {
      return { collection: await this.ensure(connection), filenamePrefix: `${bucket}/` };
    }
    const hash = createHash('sha256').update(bucket).digest('hex').slice(0, 12);
    const collection = `chlab_s3_${connection.name}_${hash}`;
    await this.create(collection, bucketUrl(connection, bucket), connection);
    return { collection, filenamePrefix: '' };
  }

  private create(name: string, url: string, connection: S3Connection): Promise<void> {
    let pending = this.created.get(name);
    if (!pending) {
      pending = this.createNow(name, url, connection);
      this.created.set(name, pending);
      pending.catch(() => this.created.delete(name));
    }
    return pending;
  }

  private async createNow(name: string, url: string, connection: S3Connection): Promise<void> {
    const onCluster = this.cluster ? ` ON CLUSTER ${sqlString(this.cluster)}` : '';
    const pairs = [`url = ${sqlString(url)} NOT OVERRIDABLE`];
    if (connection.accessKeyId && connection.secretAccessKey) {
      pairs.push(`access_key_id = ${sqlString(connection.accessKeyId)} NOT OVERRIDABLE`);
      pairs.push(`secret_access_key = ${sqlString(connection.secretAccessKey)} NOT OVERRIDABLE`);
    } else {
      // A public bucket: no signing, and no falling back to keys from the server's environment.
      pairs.push('no_sign_request = 1 NOT OVERRIDABLE');
    }
    try {
      // Replace a collection left by an earlier run (its keys may have changed).
      await this.engine.command(`DROP NAMED COLLECTION IF EXISTS ${name}${onCluster}`);
      await this.engine.command(`CREATE NAMED COLLECTION ${name}${onCluster} AS ${pairs.join(', ')}`);
    } catch (error) {
      const failure = toClickHouseError(error);
      this.log.warn({ collection: name, error: failure.message }, 'could not create the S3 named collection');
      throw new S3Error(
        502,
        `Could not create the ClickHouse named collection ${name} for S3 connection "${connection.name}": ${failure.message}` +
          (this.engine.kind === 'http' ? ' (the ClickHouse user needs the NAMED COLLECTION ADMIN privilege)' : ''),
      );
    }
  }

  /**
   * Drops the collections this proxy created when the engine is embedded (their files in the data folder hold
   * the keys). On a ClickHouse server they stay: other proxies of the team may share them.
   */
  async dropAll(): Promise<void> {
    if (this.engine.kind !== 'embedded') return;
    const onCluster = this.cluster ? ` ON CLUSTER ${sqlString(this.cluster)}` : '';
    const names = [...this.created.keys()];
    this.created.clear();
    for (const name of names) {
      await this.engine.command(`DROP NAMED COLLECTION IF EXISTS ${name}${onCluster}`).catch((error: unknown) => {
        this.log.warn({ collection: name, error: toClickHouseError(error).message }, 'could not drop the S3 named collection');
      });
    }
  }
}
