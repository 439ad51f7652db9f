/** MIME renderers for the `%%migrate` cell's outputs (docs/contracts/migration.md). */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { findCell, type CellHandle } from './cell.js';
import { renderHistoryOutput } from './history.js';
import { h } from './dom.js';
import { MigrationPlanView } from './plan-view.js';
import { MigrationProgressView } from './progress-view.js';
import { renderSummary } from './summary-view.js';
import {
  MIGRATION_HISTORY_MIME,
  MIGRATION_MIME_TYPES,
  MIGRATION_PLAN_MIME,
  MIGRATION_PROGRESS_MIME,
  readPlan,
  readProgress,
  readSummary
} from './types.js';

/** Lower ranks win; text/html is 50, so these beat the HTML fallbacks. */
export const MIGRATION_RENDERER_RANK = 10;

/** Output data may be a JSON object, or a JSON string in a hand-made notebook. */
function jsonData(data: unknown): unknown {
  if (typeof data === 'string') {
    try {
      return JSON.parse(data);
    } catch {
      return {};
    }
  }
  return data;
}

function renderError(reason: unknown): HTMLElement {
  const message = reason instanceof Error ? reason.message : String(reason);
  return h('div', { className: 'chlab-ArrowResult-error', text: `Could not show the migration output: ${message}` });
}

/** A view that works with the cell it is shown in (edit and run it, interrupt it). */
interface CellBoundView {
  attach(cell: CellHandle | undefined): void;
  detach(): void;
}

/** A renderer whose view is connected to its cell while the renderer is in the page. */
abstract class CellBoundRenderer extends Widget implements IRenderMime.IRenderer {
  protected abstract get view(): CellBoundView | undefined;

  abstract renderModel(model: IRenderMime.IMimeModel): Promise<void>;

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.view?.attach(findCell(this));
  }

  protected override onBeforeDetach(msg: Message): void {
    this.view?.detach();
    super.onBeforeDetach(msg);
  }

  override dispose(): void {
    this.view?.detach();
    super.dispose();
  }
}

/** The mapping widget. It finds its cell when attached, to write edits back and to run it. */
export class MigrationPlanRenderer extends CellBoundRenderer {
  private planView: MigrationPlanView | undefined;

  constructor() {
    super();
    this.addClass('chlab-MigrationRenderer');
    this.addClass('chlab-MigrationPlanRenderer');
  }

  protected get view(): MigrationPlanView | undefined {
    return this.planView;
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this.planView?.detach();
    try {
      this.planView = new MigrationPlanView(readPlan(jsonData(model.data[MIGRATION_PLAN_MIME])));
      this.node.replaceChildren(this.planView.node);
    } catch (reason) {
      this.planView = undefined;
      this.node.replaceChildren(renderError(reason));
      return;
    }
    if (this.isAttached) {
      this.planView.attach(findCell(this));
    }
  }
}

/** The progress bar, updated in place by update_display_data; Stop while its cell runs the migration. */
export class MigrationProgressRenderer extends CellBoundRenderer {
  protected readonly view = new MigrationProgressView();

  constructor() {
    super();
    this.addClass('chlab-MigrationRenderer');
    this.addClass('chlab-MigrationProgressRenderer');
    this.node.append(this.view.node);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this.view.update(readProgress(jsonData(model.data[MIGRATION_PROGRESS_MIME])));
  }
}

/** `%%migrate history`: a read-only table of recent migrations. */
export class MigrationHistoryRenderer extends Widget implements IRenderMime.IRenderer {
  constructor() {
    super();
    this.addClass('chlab-MigrationRenderer');
    this.addClass('chlab-MigrationHistoryRenderer');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    try {
      this.node.replaceChildren(renderHistoryOutput(jsonData(model.data[MIGRATION_HISTORY_MIME])));
    } catch (reason) {
      this.node.replaceChildren(renderError(reason));
    }
  }
}

export class MigrationSummaryRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private readonly mimeType: string) {
    super();
    this.addClass('chlab-MigrationRenderer');
    this.addClass('chlab-MigrationSummaryRenderer');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    try {
      this.node.replaceChildren(renderSummary(readSummary(jsonData(model.data[this.mimeType]))));
    } catch (reason) {
      this.node.replaceChildren(renderError(reason));
    }
  }
}

export const migrationRendererFactory: IRenderMime.IRendererFactory = {
  // Only text nodes are created from output data; running or editing the cell needs a click.
  safe: true,
  mimeTypes: MIGRATION_MIME_TYPES,
  defaultRank: MIGRATION_RENDERER_RANK,
  createRenderer: options => {
    switch (options.mimeType) {
      case MIGRATION_PLAN_MIME:
        return new MigrationPlanRenderer();
      case MIGRATION_PROGRESS_MIME:
        return new MigrationProgressRenderer();
      case MIGRATION_HISTORY_MIME:
        return new MigrationHistoryRenderer();
      default:
        return new MigrationSummaryRenderer(options.mimeType);
    }
  }
};

/** The mime extension (see mime.ts). */
export const migrationRendererExtension: IRenderMime.IExtension = {
  id: 'chlab-extension:migration-renderer',
  description: 'Shows %%migrate outputs: the editable mapping widget, the live progress bar, the summary and the history.',
  rendererFactory: migrationRendererFactory,
  rank: MIGRATION_RENDERER_RANK,
  dataType: 'json'
};
