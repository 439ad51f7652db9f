import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IConsoleTracker } from '@jupyterlab/console';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookCellExecutor, INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { ResultsComms } from './comm.js';
import { ChlabCellExecutor } from './duckdb-cell.js';
import { duckdbStatus, getDuckDB } from './duckdb/engine.js';
import { ARROW_RENDERER_RANK, createArrowRendererFactory } from './factory.js';
import { resultRegistry } from './registry.js';
import { restoreSavedResults } from './restore.js';
import { resultsSettings } from './settings.js';
import { paintTimes } from './view.js';

/** The MIME renderer for Arrow results (registered as a mime extension). */
export const arrowRendererExtension: IRenderMime.IExtension = {
  id: 'chlab-extension:arrow-renderer',
  description: 'Shows ClickHouse results sent as Apache Arrow streams as a table.',
  rendererFactory: createArrowRendererFactory(resultsSettings),
  rank: ARROW_RENDERER_RANK,
  dataType: 'string'
};

/** Applies the `chlab-extension:results` settings to the Arrow renderer. */
export const resultsSettingsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:results',
  description: 'Settings for ClickHouse result tables.',
  autoStart: true,
  optional: [ISettingRegistry],
  activate: (_app: JupyterFrontEnd, registry: ISettingRegistry | null): void => {
    if (!registry) {
      return;
    }
    registry
      .load(resultsSettingsPlugin.id)
      .then(settings => {
        const apply = (): void => {
          resultsSettings.update(settings.composite);
          resultRegistry.setMemoryBudget(resultsSettings.memoryBudgetBytes).catch(reason => console.warn('chlab: could not apply the results memory budget', reason));
        };
        apply();
        settings.changed.connect(apply);
      })
      .catch(reason => {
        console.warn('chlab: could not load result settings, using defaults', reason);
      });
  }
};

/**
 * Opens the `chlab.results` comm on the kernel of every notebook and console, so that each result streams
 * into DuckDB-WASM as binary Arrow batches.
 */
export const resultsStreamPlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:results-stream',
  description: 'Streams ClickHouse results into DuckDB-WASM over the chlab.results comm.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IConsoleTracker],
  activate: (_app: JupyterFrontEnd, notebooks: INotebookTracker, consoles: IConsoleTracker | null): void => {
    const comms = new ResultsComms(resultRegistry);
    const follow = (panel: NotebookPanel) => {
      comms.watch(panel.sessionContext);
      // A saved notebook's results (their previews) become `_N`, `_` and named tables again.
      restoreSavedResults(panel, resultRegistry).catch(reason => console.warn('chlab: could not load saved results into DuckDB', reason));
    };
    notebooks.widgetAdded.connect((_, panel) => follow(panel));
    notebooks.forEach(follow);
    consoles?.widgetAdded.connect((_, panel) => comms.watch(panel.sessionContext));
    consoles?.forEach(panel => comms.watch(panel.sessionContext));
    if (PageConfig.getOption('exposeAppInBrowser').toLowerCase() === 'true') {
      // For tests and the bench: the results held in DuckDB, and DuckDB itself.
      (window as unknown as Record<string, unknown>).chlabResults = { registry: resultRegistry, getDuckDB, duckdbStatus, paintTimes };
    }
  }
};

/** Runs `%%duckdb` cells in the browser; every other cell goes to the kernel. */
export const duckdbCellExecutorPlugin: JupyterFrontEndPlugin<INotebookCellExecutor> = {
  id: 'chlab-extension:cell-executor',
  description: 'Runs %%duckdb cells in DuckDB-WASM in the browser, other cells on the kernel.',
  autoStart: true,
  provides: INotebookCellExecutor,
  activate: (): INotebookCellExecutor => new ChlabCellExecutor(resultRegistry)
};
