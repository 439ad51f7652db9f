import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, type MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { clickhouseIcon } from '../launcher/icon.js';
import { createClickHouseNotebook } from '../launcher/notebook.js';
import { openSingletonPanel } from '../main-area.js';
import { type HistoryActions, MigrationHistoryWidget } from './history.js';

export const MIGRATION_HISTORY_COMMAND = 'chlab:migration-history';

/** "Migration history": a main-area panel listing past migrations, from the palette and the launcher. */
export const migrationHistoryPlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:migration-history',
  description: 'Lists past PostgreSQL → ClickHouse migrations, with filters, details and re-run.',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, ILayoutRestorer, INotebookTracker, IDefaultFileBrowser, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('chlab');
    const tracker = new WidgetTracker<MainAreaWidget<MigrationHistoryWidget>>({ namespace: 'chlab-migration-history' });

    const insertCell = (panel: NotebookPanel, source: string): void => {
      const notebook = panel.content;
      const model = notebook.model;
      if (!model) return;
      const index = Math.min(notebook.activeCellIndex + 1, model.cells.length);
      model.sharedModel.insertCell(index, { cell_type: 'code', source, metadata: {} });
      notebook.activeCellIndex = index;
      notebook.deselectAll();
      app.shell.activateById(panel.id);
      void notebook.scrollToItem(index);
    };

    const actions: HistoryActions = {
      hasCurrentNotebook: () => !!notebooks?.currentWidget,
      insertInCurrentNotebook: async source => {
        const panel = notebooks?.currentWidget;
        if (!panel) return false;
        await panel.context.ready;
        insertCell(panel, source);
        return true;
      },
      openInNewNotebook: async source => {
        const panel = (await createClickHouseNotebook(app.commands, fileBrowser?.model.path ?? '')) as NotebookPanel | undefined;
        if (!panel?.context) return;
        await panel.context.ready;
        const first = panel.content.model?.sharedModel.cells[0];
        if (first && first.cell_type === 'code' && first.getSource() === '') {
          first.setSource(source);
        } else {
          insertCell(panel, source);
        }
      }
    };

    const open = (): MainAreaWidget<MigrationHistoryWidget> =>
      openSingletonPanel(app, tracker, {
        id: 'chlab-migration-history-panel',
        label: trans.__('Migration history'),
        icon: clickhouseIcon,
        create: () => new MigrationHistoryWidget(actions)
      });

    app.commands.addCommand(MIGRATION_HISTORY_COMMAND, {
      label: trans.__('Migration history'),
      caption: trans.__('Past PostgreSQL → ClickHouse migrations: filter, inspect, re-run'),
      icon: args => (args['isPalette'] ? undefined : clickhouseIcon),
      execute: () => open()
    });

    palette?.addItem({ command: MIGRATION_HISTORY_COMMAND, category: trans.__('ClickHouse'), args: { isPalette: true } });
    launcher?.add({ command: MIGRATION_HISTORY_COMMAND, category: trans.__('ClickHouse'), categoryRank: -1, rank: 10 });
    void restorer?.restore(tracker, { command: MIGRATION_HISTORY_COMMAND, name: () => 'migration-history' });
  }
};
