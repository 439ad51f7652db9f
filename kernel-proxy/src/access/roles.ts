import type { Settings } from '../clickhouse/engine.js';

export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a role may do beyond reading notebooks and running read-only SQL. */
export type Capability =
  /** SQL that writes rows (INSERT) — ClickHouse refuses it under `readonly`. */
  | 'sql.write'
  /** CREATE / ALTER / DROP / TRUNCATE … — ClickHouse refuses them under `allow_ddl = 0`. */
  | 'sql.ddl'
  | 's3.read'
  | 's3.import'
  | 'migrate'
  | 'notebooks.write'
  /** Change or delete notebooks someone else created. */
  | 'notebooks.others'
  | 'audit.read';

const CAPABILITIES: Record<Role, ReadonlySet<Capability>> = {
  viewer: new Set(),
  analyst: new Set<Capability>(['sql.write', 's3.read', 'notebooks.write']),
  admin: new Set<Capability>(['sql.write', 'sql.ddl', 's3.read', 's3.import', 'migrate', 'notebooks.write', 'notebooks.others', 'audit.read']),
};

export function can(role: Role, capability: Capability): boolean {
  return CAPABILITIES[role].has(capability);
}

export interface UserLimits {
  /** Statements one user may run at the same time (0: no limit). */
  maxConcurrentQueries: number;
  /** Statements one user may start per minute (0: no limit). */
  queriesPerMinute: number;
  maxResultRows: number;
  maxResultBytes: number;
  /** Seconds; ClickHouse's max_execution_time. */
  maxExecutionTimeSeconds: number;
}

/** An authenticated user as every part of the proxy sees them. */
export interface Principal {
  username: string;
  role: Role;
  limits: UserLimits;
}

/** How ClickHouse itself holds a statement to a role: it refuses writes and DDL, not the proxy. */
export interface AccessProfile {
  /** ClickHouse `readonly = 1`: reads only, no setting may change. */
  readonly: boolean;
  /** ClickHouse `allow_ddl`; once 0 on a session it cannot be set back. */
  allowDdl: boolean;
  /** Limits ClickHouse enforces (max_execution_time). */
  settings: Settings;
}

export function accessProfile(principal: Principal): AccessProfile {
  return {
    readonly: !can(principal.role, 'sql.write'),
    allowDdl: can(principal.role, 'sql.ddl'),
    settings: { max_execution_time: principal.limits.maxExecutionTimeSeconds },
  };
}

export class PermissionDeniedError extends Error {
  readonly statusCode = 403;

  constructor(principal: Principal, what: string) {
    super(`Permission denied: ${what} needs a role above ${principal.role} (you are ${principal.username}, ${principal.role})`);
    this.name = 'PermissionDeniedError';
  }
}

export function requireCapability(principal: Principal, capability: Capability, what: string): void {
  if (!can(principal.role, capability)) throw new PermissionDeniedError(principal, what);
}
