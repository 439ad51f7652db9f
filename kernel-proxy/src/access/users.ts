import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_LIMITS, type Limits } from '../config.js';
import { isPasswordHash, tokenHash, verifyPassword } from './password.js';
import { ROLES, type Principal, type Role, type UserLimits } from './roles.js';

const LimitsSchema = z
  .object({
    max_concurrent_queries: z.number().int().min(0),
    queries_per_minute: z.number().int().min(0),
    max_result_rows: z.number().int().min(1),
    max_result_bytes: z.number().int().min(1),
    max_execution_time: z.number().int().min(1),
  })
  .partial()
  .strict();

const UserSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'name: 1–64 letters, digits, _ . @ -'),
    role: z.enum(ROLES),
    password_hash: z.string().refine(isPasswordHash, 'password_hash: expected the output of `chlab hash-password`').optional(),
    token_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'token_sha256: 64 lowercase hex digits (`chlab new-token` prints one)').optional(),
    limits: LimitsSchema.optional(),
  })
  .strict()
  .refine((user) => user.password_hash !== undefined || user.token_sha256 !== undefined, 'each user needs a password_hash or a token_sha256');

export const UsersFileSchema = z
  .object({
    roles: z.object({ viewer: LimitsSchema, analyst: LimitsSchema, admin: LimitsSchema }).partial().strict().optional(),
    users: z.array(UserSchema).min(1, 'users: at least one user'),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    for (const user of file.users) {
      if (seen.has(user.name)) ctx.addIssue({ code: 'custom', message: `users: "${user.name}" is listed twice` });
      seen.add(user.name);
    }
  });

export type UsersFile = z.infer<typeof UsersFileSchema>;
type LimitsInput = z.infer<typeof LimitsSchema>;

/** Concurrency and rate per role unless the users file says otherwise; sizes and time come from the server limits. */
const ROLE_DEFAULTS: Record<Role, Pick<UserLimits, 'maxConcurrentQueries' | 'queriesPerMinute'>> = {
  viewer: { maxConcurrentQueries: 2, queriesPerMinute: 60 },
  analyst: { maxConcurrentQueries: 4, queriesPerMinute: 240 },
  admin: { maxConcurrentQueries: 0, queriesPerMinute: 0 },
};

function applyLimits(base: UserLimits, input: LimitsInput | undefined): UserLimits {
  if (!input) return base;
  return {
    maxConcurrentQueries: input.max_concurrent_queries ?? base.maxConcurrentQueries,
    queriesPerMinute: input.queries_per_minute ?? base.queriesPerMinute,
    maxResultRows: input.max_result_rows ?? base.maxResultRows,
    maxResultBytes: input.max_result_bytes ?? base.maxResultBytes,
    maxExecutionTimeSeconds: input.max_execution_time ?? base.maxExecutionTimeSeconds,
  };
}

function serverLimits(limits: Limits): Pick<UserLimits, 'maxResultRows' | 'maxResultBytes' | 'maxExecutionTimeSeconds'> {
  return { maxResultRows: limits.maxResultRows, maxResultBytes: limits.maxResultBytes, maxExecutionTimeSeconds: limits.maxExecutionTimeSeconds };
}

/** Who may log in, and as what. */
export interface UserDirectory {
  /** `token`: one person with the startup token (the laptop default); `users`: the users file. */
  readonly mode: 'token' | 'users';
  byToken(token: string): Principal | undefined;
  byName(username: string): Principal | undefined;
  byPassword(username: string, password: string): Promise<Principal | undefined>;
}

/** The single-token mode's one user: an admin with the server's limits. */
export function soleUser(limits: Limits = DEFAULT_LIMITS, username = 'analyst'): Principal {
  return { username, role: 'admin', limits: { ...ROLE_DEFAULTS.admin, ...serverLimits(limits) } };
}

/** The default: whoever holds the startup token is the one (admin) user. */
export class SingleTokenDirectory implements UserDirectory {
  readonly mode = 'token' as const;
  private readonly principal: Principal;
  private readonly hash: string;

  constructor(token: string, limits: Limits = DEFAULT_LIMITS, username = 'analyst') {
    this.hash = tokenHash(token);
    this.principal = soleUser(limits, username);
  }

  byToken(token: string): Principal | undefined {
    return tokenHash(token) === this.hash ? this.principal : undefined;
  }

  byName(username: string): Principal | undefined {
    return username === this.principal.username ? this.principal : undefined;
  }

  async byPassword(): Promise<Principal | undefined> {
    return undefined;
  }
}

const UNKNOWN_USER_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

interface Account {
  principal: Principal;
  passwordHash?: string;
}

/** Users and roles from the users file (CHLAB_USERS_FILE). */
export class UsersFileDirectory implements UserDirectory {
  readonly mode = 'users' as const;
  private readonly accounts = new Map<string, Account>();
  private readonly tokens = new Map<string, string>();

  constructor(file: UsersFile, limits: Limits) {
    for (const user of file.users) {
      const roleLimits = applyLimits({ ...ROLE_DEFAULTS[user.role], ...serverLimits(limits) }, file.roles?.[user.role]);
      const principal: Principal = { username: user.name, role: user.role, limits: applyLimits(roleLimits, user.limits) };
      this.accounts.set(user.name, { principal, passwordHash: user.password_hash });
      if (user.token_sha256) this.tokens.set(user.token_sha256, user.name);
    }
  }

  static fromFile(path: string, limits: Limits): UsersFileDirectory {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`CHLAB_USERS_FILE ${path}: ${(error as Error).message}`);
    }
    const parsed = UsersFileSchema.safeParse(raw);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ');
      throw new Error(`CHLAB_USERS_FILE ${path}: ${details}`);
    }
    return new UsersFileDirectory(parsed.data, limits);
  }

  byToken(token: string): Principal | undefined {
    const name = this.tokens.get(tokenHash(token));
    return name === undefined ? undefined : this.accounts.get(name)?.principal;
  }

  byName(username: string): Principal | undefined {
    return this.accounts.get(username)?.principal;
  }

  async byPassword(username: string, password: string): Promise<Principal | undefined> {
    const account = this.accounts.get(username);
    // An unknown user costs the same scrypt as a known one, so timing does not tell which names exist.
    const matches = await verifyPassword(password, account?.passwordHash ?? UNKNOWN_USER_HASH);
    return matches && account?.passwordHash ? account.principal : undefined;
  }
}
