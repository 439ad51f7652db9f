/**
 * Finds the notebook cell an output renderer belongs to, by walking the Lumino parent chain
 * (renderer → output panel → OutputArea → output wrapper → CodeCell → Notebook → NotebookPanel),
 * so a renderer can edit its cell's source and run it. Duck-typed: no class identity is needed.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import { NotebookActions, type Notebook } from '@jupyterlab/notebook';
import type { Widget } from '@lumino/widgets';

/** What the migration widget needs from its cell. */
export interface CellHandle {
  getSource(): string;
  setSource(source: string): void;
  /** Calls `listener` after every source change; returns the disconnect function. */
  onSourceChanged(listener: () => void): () => void;
  /** Runs the cell in its notebook (as Run › Run Selected Cell would). */
  run(): Promise<boolean>;
  /** Whether `run` can work (the cell sits in a notebook with a session). */
  readonly canRun: boolean;
  /** Whether the cell is executing now (its prompt shows [*]). */
  isExecuting(): boolean;
  /** Calls `listener` when the cell starts or stops executing; returns the disconnect function. */
  onExecutionChanged(listener: () => void): () => void;
  /** Interrupts the notebook's kernel, as Kernel › Interrupt does: what the cell runs stops. */
  interrupt(): Promise<boolean>;
}

interface SharedCell {
  getSource(): string;
  setSource(source: string): void;
  changed: {
    connect(slot: (sender: unknown, change: { sourceChange?: unknown }) => void): boolean;
    disconnect(slot: (sender: unknown, change: { sourceChange?: unknown }) => void): boolean;
  };
}

interface CellLike extends Widget {
  model: {
    type: string;
    sharedModel: SharedCell;
    executionState?: string;
    stateChanged?: {
      connect(slot: (sender: unknown, change: { name: string }) => void): boolean;
      disconnect(slot: (sender: unknown, change: { name: string }) => void): boolean;
    };
  };
}

function isCodeCell(widget: Widget): widget is CellLike {
  const model = (widget as unknown as Partial<CellLike>).model;
  return (
    !!model &&
    model.type === 'code' &&
    !!model.sharedModel &&
    typeof model.sharedModel.getSource === 'function' &&
    typeof model.sharedModel.setSource === 'function'
  );
}

function isNotebook(widget: Widget): widget is Notebook {
  const candidate = widget as unknown as Partial<Notebook>;
  return Array.isArray(candidate.widgets) && typeof candidate.activeCellIndex === 'number' && typeof candidate.deselectAll === 'function';
}

function sessionContextOf(widget: Widget | null): ISessionContext | undefined {
  for (let current = widget; current; current = current.parent) {
    const context = (current as { sessionContext?: ISessionContext }).sessionContext;
    if (context) {
      return context;
    }
  }
  return undefined;
}

/** The code cell `widget` is rendered in, or undefined (outputs shown outside a notebook cell). */
export function findCell(widget: Widget): CellHandle | undefined {
  let cell: CellLike | undefined;
  for (let current = widget.parent; current; current = current.parent) {
    if (isCodeCell(current)) {
      cell = current;
      break;
    }
  }
  if (!cell) {
    return undefined;
  }
  const found = cell;
  const shared = found.model.sharedModel;
  let notebook: Notebook | undefined;
  for (let current = found.parent; current; current = current.parent) {
    if (isNotebook(current)) {
      notebook = current;
      break;
    }
  }
  const sessionContext = sessionContextOf(notebook ?? null);
  return {
    getSource: () => shared.getSource(),
    setSource: source => {
      if (shared.getSource() !== source) {
        shared.setSource(source);
      }
    },
    onSourceChanged: listener => {
      const slot = (_sender: unknown, change: { sourceChange?: unknown }): void => {
        if (change.sourceChange) {
          listener();
        }
      };
      shared.changed.connect(slot);
      return () => {
        shared.changed.disconnect(slot);
      };
    },
    canRun: !!notebook && !!sessionContext,
    isExecuting: () => found.model.executionState === 'running',
    onExecutionChanged: listener => {
      const slot = (_sender: unknown, change: { name: string }): void => {
        if (change.name === 'executionState') {
          listener();
        }
      };
      found.model.stateChanged?.connect(slot);
      return () => {
        found.model.stateChanged?.disconnect(slot);
      };
    },
    interrupt: async () => {
      const kernel = sessionContext?.session?.kernel;
      if (!kernel) {
        return false;
      }
      await kernel.interrupt();
      return true;
    },
    run: async () => {
      if (!notebook || !sessionContext) {
        return false;
      }
      const index = notebook.widgets.indexOf(found as never);
      if (index < 0) {
        return false;
      }
      notebook.activeCellIndex = index;
      notebook.deselectAll();
      return NotebookActions.run(notebook, sessionContext);
    }
  };
}
