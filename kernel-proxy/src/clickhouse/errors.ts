import { scrubSecrets } from '../util/secrets.js';

/** A ClickHouse error reduced to what a user needs: the code, its name and the message. */
export class ClickHouseQueryError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly type: string | undefined,
  ) {
    super(message);
    this.name = 'ClickHouseQueryError';
  }

  /** "Code: 62. SYNTAX_ERROR: Syntax error: …" — what a cell and the REST API show. */
  get display(): string {
    const head = this.code === undefined ? '' : `Code: ${this.code}${this.type ? ` (${this.type})` : ''}. `;
    return `${head}${this.message}`;
  }
}

const CODE_PATTERN = /Code:\s*(\d+)\.\s*(?:DB::Exception:\s*)?/g;
const TYPE_SUFFIX = /\s*\(([A-Z][A-Z0-9_]+)\)(?:\s*\(version [^)]*\))?\.?\s*$/;
/** ClickHouse before 19.x: "Code: 193, e.displayText() = DB::Exception: MSG, e.what() = DB::Exception". */
const LEGACY_FORMAT = /Code:\s*\d+,\s*e\.displayText\(\)\s*=\s*(?:DB::Exception:\s*)?([\s\S]*?)(?:,\s*e\.what\(\)\s*=\s*[\w:]+)?\s*$/;
const QUERY_ECHO = /:?\s*\(in query: [\s\S]*?\)(?=\.?\s*\(|\.?\s*$)/;

/** Normalizes errors from @clickhouse/client, chDB and the network into ClickHouseQueryError. */
export function toClickHouseError(error: unknown): ClickHouseQueryError {
  if (error instanceof ClickHouseQueryError) return error;
  const raw = error instanceof Error ? error.message : String(error);
  const anyError = error as { code?: unknown; type?: unknown; clickhouseCode?: unknown; cause?: unknown };

  let code: number | undefined;
  if (typeof anyError.clickhouseCode === 'number') code = anyError.clickhouseCode;
  else if (typeof anyError.code === 'string' && /^\d+$/.test(anyError.code)) code = Number(anyError.code);
  const codeMatch = /Code:\s*(\d+)/.exec(raw);
  if (code === undefined && codeMatch) code = Number(codeMatch[1]);

  let type = typeof anyError.type === 'string' ? anyError.type : undefined;
  const legacy = LEGACY_FORMAT.exec(raw);
  let message = legacy ? legacy[1]! : raw.replace(CODE_PATTERN, '');
  const typeMatch = TYPE_SUFFIX.exec(message);
  if (typeMatch) {
    type ??= typeMatch[1];
    message = message.slice(0, typeMatch.index);
  }
  message = message.replace(QUERY_ECHO, '').replace(/\s+$/, '');
  message = message.replace(/\.?\s*\(version [^)]*\)\.?$/, '');
  if (!message) message = raw;

  if (code === undefined && isConnectionError(error)) {
    return new ClickHouseQueryError(scrubSecrets(`ClickHouse is unreachable: ${raw}`), undefined, 'CONNECTION_ERROR');
  }
  // Keys the proxy holds (S3 connections) never reach a user, the history or the log through an error.
  return new ClickHouseQueryError(scrubSecrets(message.trim()), code, type);
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EPIPE)$/.test(code);
}
