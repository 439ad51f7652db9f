import type { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { launcherPlugin } from './launcher/plugin.js';
import { resultsSettingsPlugin } from './results/plugin.js';
import { sqlLanguagePlugin } from './sql/plugin.js';

export { clickhouseIcon } from './launcher/icon.js';
export { NEW_NOTEBOOK_COMMAND } from './launcher/plugin.js';
export { ARROW_STREAM_MIME } from './results/factory.js';
export { CLICKHOUSE_SQL_MIME } from './sql/language.js';

const plugins: JupyterFrontEndPlugin<void>[] = [sqlLanguagePlugin, resultsSettingsPlugin, launcherPlugin];

export default plugins;
