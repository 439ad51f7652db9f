import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';

import { createClickHouseNotebook } from '../launcher/notebook.js';
import { previewCell } from './api.js';
import { S3BrowserPanel } from './panel.js';

export const S3_BROWSER_COMMAND = 'chlab:s3-browser';
export const S3_INSERT_PREVIEW_COMMAND = 'chlab:s3-insert-preview';

export const s3Icon = new LabIcon({
  name: 'chlab-extension:s3',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 5.5C4 4.1 7.6 3 12 3s8 1.1 8 2.5S16.4 8 12 8 4 6.9 4 5.5z"/>
    <path d="M4 7.6C5.4 9 8.6 9.7 12 9.7S18.6 9 20 7.6L18.2 19.4C17.9 20.9 15.3 22 12 22s-5.9-1.1-6.2-2.6z"/>
  </g>
</svg>`
});

/**
 * The S3 browser in the left area and the command that turns an S3 file into a `%%s3 preview` cell of the
 * active ClickHouse notebook (a new one when none is open), run at once.
 */
export const s3BrowserPlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:s3-browser',
  description: 'Browse S3 buckets through the proxy and preview files in %%s3 cells.',
  autoStart: true,
  optional: [ILayoutRestorer, INotebookTracker, ICommandPalette, IDefaultFileBrowser, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    palette: ICommandPalette | null,
    fileBrowser: IDefaultFileBrowser | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('chlab');

    const insertAndRun = async (source: string, run: boolean): Promise<void> => {
      let panel: NotebookPanel | null | undefined = notebooks?.currentWidget;
      if (!panel) {
        panel = (await createClickHouseNotebook(app.commands, fileBrowser?.model.path ?? '')) as NotebookPanel | undefined;
      }
      if (!panel) {
        return;
      }
      await panel.context.ready;
      const notebook = panel.content;
      const model = notebook.model;
      if (!model) {
        return;
      }
      const active = notebook.activeCell;
      const reuse = model.cells.length === 1 && active?.model.type === 'code' && active.model.sharedModel.getSource().trim() === '';
      let index: number;
      if (reuse) {
        index = 0;
        model.sharedModel.cells[0]!.setSource(source);
      } else {
        index = Math.min(notebook.activeCellIndex + 1, model.cells.length);
        model.sharedModel.insertCell(index, { cell_type: 'code', source, metadata: {} });
      }
      notebook.activeCellIndex = index;
      notebook.deselectAll();
      app.shell.activateById(panel.id);
      void notebook.scrollToItem(index);
      if (run) {
        await panel.sessionContext.ready;
        await NotebookActions.run(notebook, panel.sessionContext);
      }
    };

    app.commands.addCommand(S3_INSERT_PREVIEW_COMMAND, {
      label: trans.__('Preview S3 file in notebook'),
      caption: trans.__('Insert a %%s3 preview cell for an s3:// URL into the active notebook'),
      execute: args => {
        const url = typeof args['url'] === 'string' ? args['url'] : '';
        if (!url.startsWith('s3://')) {
          return;
        }
        const connection = typeof args['connection'] === 'string' ? args['connection'] : undefined;
        return insertAndRun(previewCell(url, connection), args['run'] !== false);
      },
      describedBy: {
        args: {
          type: 'object',
          properties: {
            url: { type: 'string', description: trans.__('s3://bucket/key or glob') },
            connection: { type: 'string', description: trans.__('S3 connection name') },
            run: { type: 'boolean', description: trans.__('Run the cell (default true)') }
          },
          required: ['url']
        }
      }
    });

    const panel = new S3BrowserPanel({
      preview: (url, connection) => app.commands.execute(S3_INSERT_PREVIEW_COMMAND, { url, connection: connection ?? '' }).then(() => undefined)
    });
    panel.title.icon = s3Icon;
    panel.title.caption = trans.__('S3 browser');
    app.shell.add(panel, 'left', { rank: 300, type: 'S3 Browser' });
    restorer?.add(panel, 'chlab-s3-browser');
    app.commands.addCommand(S3_BROWSER_COMMAND, {
      label: trans.__('S3 browser'),
      caption: trans.__('Browse S3 buckets and preview files'),
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    palette?.addItem({ command: S3_BROWSER_COMMAND, category: trans.__('ClickHouse') });
  }
};
