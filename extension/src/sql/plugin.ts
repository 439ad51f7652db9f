import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { clickhouseSqlLanguage } from './language.js';

/**
 * Registers ClickHouse SQL with the editor language registry. Notebooks pick it
 * up through the kernel's `language_info.codemirror_mode` (a MIME type).
 */
export const sqlLanguagePlugin: JupyterFrontEndPlugin<void> = {
  id: 'chlab-extension:sql-language',
  description: 'ClickHouse SQL syntax highlighting for editors and notebook cells.',
  autoStart: true,
  requires: [IEditorLanguageRegistry],
  optional: [ITranslator],
  activate: (
    _app: JupyterFrontEnd,
    languages: IEditorLanguageRegistry,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('chlab');
    languages.addLanguage(clickhouseSqlLanguage(trans.__('ClickHouse SQL')));
  }
};
