import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { PostgresConfig } from '../config.js';
import { expandEnv } from '../util/env-expand.js';

const CONNECTION_NAME = /^[a-z][a-z0-9_]{0,47}$/;

const Entry = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    user: z.string().min(1),
    password: z.string().default(''),
    database: z.string().min(1),
  })
  .strict();

const ConnectionsFile = z
  .object({ connections: z.record(z.string().regex(CONNECTION_NAME, 'connection names: a-z, 0-9 and _, starting with a letter'), Entry) })
  .strict();

/** zod reports a bad record key as "Invalid key in record", with the reason one level down. */
const keyIssue = (issue: z.core.$ZodIssue) => ('issues' in issue && Array.isArray(issue.issues) ? (issue.issues[0] as { message?: string } | undefined)?.message : undefined);

/**
 * Named PostgreSQL sources from CHLAB_POSTGRES_CONNECTIONS (`%%migrate` `connection: name`, REST `connection`).
 * String values may say `${ENV_VAR}`, so passwords need not be in the file.
 */
export function loadPostgresConnections(file: string, env: NodeJS.ProcessEnv = process.env): Record<string, PostgresConfig> {
  let parsed: z.infer<typeof ConnectionsFile>;
  try {
    parsed = ConnectionsFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    const detail = error instanceof z.ZodError ? error.issues.map((i) => `${i.path.join('.') || 'file'}: ${keyIssue(i) ?? i.message}`).join('; ') : (error as Error).message;
    throw new Error(`CHLAB_POSTGRES_CONNECTIONS ${file}: ${detail}`);
  }
  return Object.fromEntries(
    Object.entries(parsed.connections).map(([name, entry]) => {
      const where = `CHLAB_POSTGRES_CONNECTIONS ${name}`;
      const text = (value: string) => expandEnv(value, env, where)!;
      return [name, { host: text(entry.host), port: entry.port, user: text(entry.user), password: text(entry.password), database: text(entry.database) }];
    }),
  );
}
