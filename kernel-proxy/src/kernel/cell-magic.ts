import type { DisplayBundle } from './cell-output.js';
import type { Principal } from '../access/roles.js';
import type { AuditAction, AuditOutcome } from '../access/audit.js';

/** What a cell magic (`%%migrate`, `%%s3`, …) gets to run one cell. */
export interface CellContext {
  /** The rest of the `%%name` line. */
  args: string;
  /** The cell source after the magic line. */
  body: string;
  /** The whole cell source. */
  code: string;
  user: string;
  /** Who runs the cell: magics check the role's capabilities. */
  principal: Principal;
  address?: string;
  /** Writes an audit row for this cell's user and address (migrations, imports). */
  audit(action: AuditAction, target: string, outcome: AuditOutcome, detail?: string): void;
  executionCount: number;
  silent: boolean;
  /** Aborted when the user interrupts the kernel. */
  signal: AbortSignal;
  /** Shows output; with a displayId, `update` can later replace it in place (progress bars). */
  display(bundle: DisplayBundle, displayId?: string): void;
  update(displayId: string, bundle: DisplayBundle): void;
  stream(name: 'stdout' | 'stderr', text: string): void;
}

/** A cell kind selected by its first line, `%%name args`. */
export interface CellMagic {
  readonly name: string;
  run(context: CellContext): Promise<void>;
}

/** An error a magic reports to the user: shown as `ename: message`, without a stack. */
export class CellError extends Error {
  constructor(
    readonly ename: string,
    message: string,
  ) {
    super(message);
    this.name = 'CellError';
  }
}

const MAGIC_LINE = /^\s*%%([A-Za-z_][\w-]*)[ \t]*([^\n]*)(?:\n|$)/;

export function parseMagic(code: string): { name: string; args: string; body: string } | undefined {
  const match = MAGIC_LINE.exec(code);
  if (!match) return undefined;
  return { name: match[1]!, args: match[2]!.trim(), body: code.slice(match[0].length) };
}
