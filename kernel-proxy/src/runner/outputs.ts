import type { JupyterMessage } from '../kernel/messages.js';
import { scrubSecrets } from '../util/secrets.js';

export type Output = Record<string, unknown> & { output_type: string };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Turns iopub messages into nbformat outputs, as JupyterLab's output area does: streams of one name
 * merge, `update_display_data` replaces every output shown with that display id (in any cell),
 * `clear_output` clears (at the next output when `wait`). Secrets the proxy knows are scrubbed
 * from the text, so an executed notebook can be committed.
 */
export class OutputCollector {
  private readonly displays = new Map<string, Output[]>();

  /** Adds the message's output to `outputs`; returns what changed, for progress reporting. */
  accept(message: JupyterMessage, cell: CellOutputs): Output | undefined {
    const content = message.content;
    switch (message.header.msg_type) {
      case 'stream': {
        const name = content.name === 'stderr' ? 'stderr' : 'stdout';
        const text = scrubSecrets(String(content.text ?? ''));
        cell.clearIfPending();
        const last = cell.outputs.at(-1);
        if (last && last.output_type === 'stream' && last.name === name) {
          last.text = `${String(last.text)}${text}`;
          return last;
        }
        return cell.push({ output_type: 'stream', name, text });
      }
      case 'display_data':
      case 'execute_result': {
        cell.clearIfPending();
        const output: Output = {
          output_type: message.header.msg_type,
          data: cleanBundle(content.data),
          metadata: isObject(content.metadata) ? structuredClone(content.metadata) : {},
        };
        if (message.header.msg_type === 'execute_result') output.execution_count = content.execution_count ?? null;
        const displayId = displayIdOf(content);
        if (displayId) {
          const shown = this.displays.get(displayId) ?? [];
          shown.push(output);
          this.displays.set(displayId, shown);
        }
        return cell.push(output);
      }
      case 'update_display_data': {
        const displayId = displayIdOf(content);
        const shown = displayId ? this.displays.get(displayId) : undefined;
        if (!shown) return undefined;
        for (const output of shown) {
          output.data = cleanBundle(content.data);
          output.metadata = isObject(content.metadata) ? structuredClone(content.metadata) : {};
        }
        return shown[0];
      }
      case 'error': {
        cell.clearIfPending();
        const traceback = Array.isArray(content.traceback) ? content.traceback.map((line) => scrubSecrets(String(line))) : [];
        return cell.push({ output_type: 'error', ename: String(content.ename ?? 'Error'), evalue: scrubSecrets(String(content.evalue ?? '')), traceback });
      }
      case 'clear_output':
        cell.clear(content.wait === true);
        return undefined;
      default:
        return undefined;
    }
  }
}

/** The outputs of one cell while it runs. */
export class CellOutputs {
  readonly outputs: Output[] = [];
  private pendingClear = false;

  push(output: Output): Output {
    this.outputs.push(output);
    return output;
  }

  clear(wait: boolean): void {
    if (wait) this.pendingClear = true;
    else this.outputs.splice(0);
  }

  clearIfPending(): void {
    if (!this.pendingClear) return;
    this.pendingClear = false;
    this.outputs.splice(0);
  }
}

function displayIdOf(content: Record<string, unknown>): string | undefined {
  const transient = content.transient;
  return isObject(transient) && typeof transient.display_id === 'string' ? transient.display_id : undefined;
}

/** Text fallbacks are scrubbed; Arrow and JSON payloads are kept as the kernel sent them. */
function cleanBundle(data: unknown): Record<string, unknown> {
  if (!isObject(data)) return {};
  const out: Record<string, unknown> = {};
  for (const [mime, value] of Object.entries(data)) out[mime] = typeof value === 'string' && mime.startsWith('text/') ? scrubSecrets(value) : structuredClone(value);
  return out;
}
