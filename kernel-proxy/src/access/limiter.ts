import type { Principal } from './roles.js';

export class LimitExceededError extends Error {
  readonly statusCode = 429;

  constructor(message: string) {
    super(message);
    this.name = 'LimitExceededError';
  }
}

const WINDOW_MS = 60_000;

/** Per-user admission: how many statements at once and per minute (the limits of the user's role). */
export class QueryLimiter {
  private readonly running = new Map<string, number>();
  private readonly started = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Admits one statement or throws LimitExceededError; the returned function ends it. */
  admit(principal: Principal): () => void {
    const { username, role, limits } = principal;
    const running = this.running.get(username) ?? 0;
    if (limits.maxConcurrentQueries > 0 && running >= limits.maxConcurrentQueries) {
      throw new LimitExceededError(
        `Limit reached: ${username} (${role}) may run ${limits.maxConcurrentQueries} ${plural(limits.maxConcurrentQueries, 'query', 'queries')} at a time; wait for one to finish`,
      );
    }
    if (limits.queriesPerMinute > 0) {
      const now = this.now();
      const recent = (this.started.get(username) ?? []).filter((at) => now - at < WINDOW_MS);
      if (recent.length >= limits.queriesPerMinute) {
        const waitSeconds = Math.max(1, Math.ceil((recent[0]! + WINDOW_MS - now) / 1000));
        this.started.set(username, recent);
        throw new LimitExceededError(
          `Limit reached: ${username} (${role}) may start ${limits.queriesPerMinute} ${plural(limits.queriesPerMinute, 'query', 'queries')} per minute; try again in ${waitSeconds} s`,
        );
      }
      recent.push(now);
      this.started.set(username, recent);
    }
    this.running.set(username, running + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.running.get(username) ?? 1) - 1;
      if (left > 0) this.running.set(username, left);
      else this.running.delete(username);
    };
  }
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);
