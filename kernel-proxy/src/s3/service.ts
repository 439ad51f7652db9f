import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import type { QueryService } from '../clickhouse/query-service.js';
import { S3Collections } from './collections.js';
import { connectionInfo, loadConnections, type S3Connection, type S3ConnectionInfo } from './connections.js';
import { S3Error } from './errors.js';
import { S3Importer } from './import.js';
import { S3Listing, type ListingOptions } from './listing.js';
import { seedDemoBucket } from './local-server.js';
import { MigrationHistoryWriter } from './migration-history.js';
import { S3Reader } from './reader.js';

export interface S3ServiceOptions {
  config: Config;
  engine: ClickHouseEngine;
  queries: QueryService;
  logger: Logger;
  listing?: ListingOptions;
}

/** Everything S3: the connections, listing, reading through ClickHouse and imports. Shared by `%%s3` cells and REST. */
export class S3Service {
  readonly connections: S3Connection[];
  readonly listing: S3Listing;
  readonly collections: S3Collections;
  readonly reader: S3Reader;
  readonly importer: S3Importer;
  readonly cluster: string | undefined;
  private readonly log: Logger;

  constructor({ config, engine, queries, logger, listing }: S3ServiceOptions) {
    this.log = logger;
    this.connections = loadConnections(config.s3);
    this.cluster = config.clickhouse.kind === 'http' ? config.clickhouse.cluster : undefined;
    this.listing = new S3Listing(listing);
    this.collections = new S3Collections(engine, logger, this.cluster);
    this.reader = new S3Reader(engine, queries, this.collections, this.listing, this.cluster);
    this.importer = new S3Importer(engine, queries, this.reader, new MigrationHistoryWriter(engine, logger), this.cluster);
  }

  /** A connection by name (`default` when none is given), or a clear error. */
  connection(name?: string): S3Connection {
    if (this.connections.length === 0) {
      throw new S3Error(404, 'No S3 connection is configured: set S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or CHLAB_S3_CONNECTIONS)');
    }
    const wanted = name || 'default';
    const found = this.connections.find((c) => c.name === wanted) ?? (name ? undefined : this.connections[0]);
    if (!found) throw new S3Error(404, `No S3 connection "${wanted.slice(0, 64)}": configured are ${this.connections.map((c) => c.name).join(', ')}`);
    return found;
  }

  infos(): S3ConnectionInfo[] {
    return this.connections.map(connectionInfo);
  }

  private started: Promise<void> | undefined;

  /**
   * Creates the named collections SQL cells use (`s3_default`, …) and, on the local demo server, writes the
   * demo files once. Failures are logged, not fatal. S3 cells and REST calls wait for it.
   */
  start(): Promise<void> {
    this.started ??= (async () => {
      for (const connection of this.connections) {
        await this.collections.ensure(connection).catch((error: unknown) => {
          this.log.warn({ connection: connection.name, error: (error as Error).message }, 'S3 connection not ready for SQL cells');
        });
      }
      if (this.connections.some((c) => c.demo)) {
        await seedDemoBucket(this).catch((error: unknown) => this.log.warn({ error: (error as Error).message }, 'could not write the S3 demo files'));
      }
    })();
    return this.started;
  }

  async close(): Promise<void> {
    await this.started;
    await this.collections.dropAll();
    this.listing.close();
  }
}
