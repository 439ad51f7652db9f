import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { clickhouseIcon } from './icon.js';
import { createClickHouseNotebook } from './notebook.js';

export const NEW_NOTEBOOK_COMMAND = 'chlab:new-notebook';

/**
 * "New ClickHouse notebook" in the launcher, the command palette and
 * File › New (the menu entry comes from schema/launcher.json).
 */
export const launcherPlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:launcher',
  description: 'Creates notebooks on the ClickHouse kernel from the launcher, palette and File menu.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, IDefaultFileBrowser, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    fileBrowser: IDefaultFileBrowser | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('chlab');
    const { commands } = app;

    commands.addCommand(NEW_NOTEBOOK_COMMAND, {
      label: args =>
        args['isMenu'] ? trans.__('ClickHouse Notebook') : trans.__('New ClickHouse notebook'),
      caption: trans.__('Create a notebook on the ClickHouse kernel'),
      icon: args => (args['isPalette'] ? undefined : clickhouseIcon),
      execute: args => {
        const directory =
          typeof args['cwd'] === 'string' ? args['cwd'] : (fileBrowser?.model.path ?? '');
        return createClickHouseNotebook(commands, directory);
      },
      describedBy: {
        args: {
          type: 'object',
          properties: {
            cwd: { type: 'string', description: trans.__('Directory for the new notebook') }
          }
        }
      }
    });

    launcher?.add({
      command: NEW_NOTEBOOK_COMMAND,
      category: trans.__('ClickHouse'),
      // Before the stock "Notebook" section (rank 0).
      categoryRank: -1,
      rank: 0
    });

    palette?.addItem({
      command: NEW_NOTEBOOK_COMMAND,
      category: trans.__('ClickHouse'),
      args: { isPalette: true }
    });
  }
};
