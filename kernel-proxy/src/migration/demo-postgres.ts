// Zero-setup demo source: an embedded PostgreSQL (PGlite, WebAssembly) served on a loopback port by
// pglite-socket, with sample tables. Started on first use when no POSTGRES_* is configured; its data lives under
// CHLAB_DATA_DIR/demo-postgres so later starts skip initdb. PGlite is one backend: connections share a session,
// so migrations from it run with parallelism 1 and without an exported snapshot.
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { PostgresConfig } from '../config.js';

export const DEMO_SCHEMA_SQL = `
DO $$ BEGIN
  CREATE TYPE customer_tier AS ENUM ('free', 'pro', 'enterprise');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE DOMAIN positive_amount AS numeric(10, 2) CHECK (VALUE >= 0);
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS customers (
  id           integer PRIMARY KEY,
  name         text NOT NULL,
  email        varchar(120),
  country      char(2),
  tier         customer_tier NOT NULL DEFAULT 'free',
  balance      numeric(12, 2) NOT NULL DEFAULT 0,
  score        numeric,
  signup_date  date NOT NULL,
  last_login   timestamptz,
  preferred_at time,
  trial        interval,
  last_ip      inet,
  avatar       bytea,
  flags        bit(4),
  tags         text[] NOT NULL DEFAULT '{}',
  profile      jsonb,
  home         point,
  active       boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS orders (
  id          bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  amount      positive_amount NOT NULL,
  currency    char(3) NOT NULL DEFAULT 'EUR',
  status      text NOT NULL,
  ordered_at  timestamptz NOT NULL,
  items       integer[] NOT NULL,
  note        text
);

CREATE TABLE IF NOT EXISTS page_views (
  viewed_at  timestamp NOT NULL,
  path       text NOT NULL,
  referrer   text,
  duration   real,
  session_id uuid NOT NULL
);
`;

export const DEMO_DATA_SQL = `
INSERT INTO customers
SELECT g,
       (ARRAY['Ada', 'Grace', 'Linus', 'Margaret', 'Edsger', 'Barbara', 'Ken', 'Zoë', 'Łukasz', '李雷'])[1 + g % 10] || ' ' || g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'user' || g || '@example.com' END,
       (ARRAY['DE', 'FR', 'US', 'JP', 'BR', NULL])[1 + g % 6],
       (ARRAY['free', 'pro', 'enterprise'])[1 + g % 3]::customer_tier,
       round(((g * 37) % 100000) / 100.0, 2),
       CASE WHEN g % 5 = 0 THEN NULL ELSE ((g * 7919) % 1000003) / 1000.0 END,
       date '2020-01-01' + (g % 1500),
       CASE WHEN g % 4 = 0 THEN NULL ELSE timestamptz '2024-01-01 00:00:00+00' + (g * 3607 || ' seconds')::interval END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE time '08:00' + (g % 600 || ' minutes')::interval END,
       CASE WHEN g % 2 = 0 THEN NULL ELSE (g % 30 || ' days')::interval END,
       CASE WHEN g % 6 = 0 THEN NULL ELSE ('10.0.' || (g % 256) || '.' || (g * 7 % 256))::inet END,
       CASE WHEN g % 9 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END,
       (g % 16)::bit(4),
       CASE WHEN g % 8 = 0 THEN '{}'::text[] ELSE ARRAY['tag' || (g % 5), 'group ' || (g % 3)] END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE jsonb_build_object('plan', 'p' || (g % 4), 'newsletter', g % 2 = 0) END,
       point(g % 90, g % 180),
       g % 11 <> 0
FROM generate_series(1, 5000) AS g
ON CONFLICT DO NOTHING;

INSERT INTO orders
SELECT g, 1 + (g * 13) % 5000, round(((g * 7) % 50000) / 100.0, 2),
       (ARRAY['EUR', 'USD', 'JPY'])[1 + g % 3],
       (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + g % 4],
       timestamptz '2023-01-01 00:00:00+00' + (g * 613 || ' seconds')::interval,
       ARRAY[g % 100, (g * 3) % 100],
       CASE WHEN g % 4 = 0 THEN NULL ELSE 'order ' || g END
FROM generate_series(1, 50000) AS g
ON CONFLICT DO NOTHING;

INSERT INTO page_views
SELECT timestamp '2024-06-01 00:00:00' + (g || ' seconds')::interval,
       '/page/' || (g % 50), CASE WHEN g % 3 = 0 THEN NULL ELSE 'https://example.com/' || (g % 7) END,
       (g % 1000) / 10.0, md5((g % 997)::text)::uuid
FROM generate_series(1, 20000) AS g
WHERE NOT EXISTS (SELECT 1 FROM page_views LIMIT 1);
ANALYZE;
`;

export class DemoPostgres {
  private starting: Promise<PostgresConfig> | undefined;
  private stopFns: (() => Promise<void>)[] = [];

  constructor(
    private readonly dataDir: string,
    private readonly log?: Logger,
  ) {}

  /** Starts the demo server (once) and returns how to connect to it. */
  start(): Promise<PostgresConfig> {
    this.starting ??= this.doStart().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  get started(): boolean {
    return this.starting !== undefined;
  }

  private async doStart(): Promise<PostgresConfig> {
    const t0 = performance.now();
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    await mkdir(path.dirname(this.dataDir), { recursive: true });
    const fresh = !existsSync(this.dataDir);
    const db = await PGlite.create(this.dataDir);
    await db.exec(DEMO_SCHEMA_SQL);
    const seeded = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
    if ((seeded.rows[0]?.n ?? 0) === 0) await db.exec(DEMO_DATA_SQL);
    const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 8 } as ConstructorParameters<typeof PGLiteSocketServer>[0]);
    await server.start();
    const address = (server as unknown as { server?: { address(): { port: number } | string | null } }).server?.address();
    const port = typeof address === 'object' && address ? address.port : Number(String((server as unknown as { getServerConn(): string }).getServerConn()).split(':').pop());
    this.stopFns.push(async () => {
      await server.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
    });
    this.log?.info({ port, ms: Math.round(performance.now() - t0), fresh }, 'demo PostgreSQL (PGlite) ready');
    return { host: '127.0.0.1', port, user: 'postgres', password: '', database: 'postgres' };
  }

  async stop(): Promise<void> {
    const fns = this.stopFns.splice(0);
    for (const fn of fns) await fn();
    this.starting = undefined;
  }
}
