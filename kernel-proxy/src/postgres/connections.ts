// Named PostgreSQL connections: `default` is POSTGRES_* (or, when that is not configured, the embedded demo),
// `demo` is always the embedded demo (unless disabled), more can be given by the server's configuration.
// Credentials stay here: callers get a description without the password.
import type { PostgresConfig } from '../config.js';
import type { DemoPostgres } from '../migration/demo-postgres.js';
import { MigrationError } from '../migration/sql.js';
import { describePostgres } from './connect.js';

export interface ResolvedConnection {
  name: string;
  config: PostgresConfig;
  /** The embedded demo (PGlite): one backend, so no parallel copy and no exported snapshot. */
  demo: boolean;
  description: string;
}

export class PostgresConnections {
  constructor(
    private readonly named: Record<string, PostgresConfig>,
    private readonly demo?: DemoPostgres,
  ) {}

  names(): string[] {
    const names = new Set(Object.keys(this.named));
    if (this.demo) {
      names.add('demo');
      names.add('default');
    }
    return [...names].sort();
  }

  async resolve(name = 'default'): Promise<ResolvedConnection> {
    const config = this.named[name];
    if (config) return { name, config, demo: false, description: describePostgres(config) };
    if (this.demo && (name === 'demo' || (name === 'default' && !this.named.default))) {
      const demoConfig = await this.demo.start();
      return { name, config: demoConfig, demo: true, description: 'embedded demo PostgreSQL (PGlite)' };
    }
    const known = this.names();
    if (name === 'default') throw new MigrationError('connection', 'no PostgreSQL configured: set POSTGRES_HOST (and POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB), or leave them unset to use the embedded demo', 400);
    throw new MigrationError('connection', `unknown PostgreSQL connection "${name}"${known.length ? ` (known: ${known.join(', ')})` : ''}`, 400);
  }

  /** Starts the embedded demo now when it is the default source (so the first %%migrate does not wait for it). */
  async warmUp(): Promise<void> {
    if (this.demo && !this.named.default) await this.demo.start();
  }

  /** Secrets to scrub from any message. */
  secrets(): string[] {
    return Object.values(this.named).map((c) => c.password).filter(Boolean);
  }
}
