import type { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { auditLogPlugin } from './audit/plugin.js';
import { launcherPlugin } from './launcher/plugin.js';
import { migrationHistoryPlugin } from './migration/plugin.js';
import { duckdbCellExecutorPlugin, resultsSettingsPlugin, resultsStreamPlugin } from './results/plugin.js';
import { s3BrowserPlugin } from './s3/plugin.js';
import { sqlLanguagePlugin } from './sql/plugin.js';

export { AUDIT_LOG_COMMAND } from './audit/plugin.js';
export { clickhouseIcon } from './launcher/icon.js';
export { NEW_NOTEBOOK_COMMAND } from './launcher/plugin.js';
export { MIGRATION_HISTORY_COMMAND } from './migration/plugin.js';
export { MIGRATION_PLAN_MIME, MIGRATION_PROGRESS_MIME, MIGRATION_SUMMARY_MIME } from './migration/types.js';
export { ARROW_STREAM_MIME } from './results/factory.js';
export { S3_BROWSER_COMMAND, S3_INSERT_PREVIEW_COMMAND } from './s3/plugin.js';
export { CLICKHOUSE_SQL_MIME } from './sql/language.js';

const plugins: JupyterFrontEndPlugin<any>[] = [sqlLanguagePlugin, resultsSettingsPlugin, resultsStreamPlugin, duckdbCellExecutorPlugin, launcherPlugin, migrationHistoryPlugin, s3BrowserPlugin, auditLogPlugin];

export default plugins;
