import type { Config } from '../config.js';
import type { ClickHouseEngine } from './engine.js';
import { baseSettings } from './engine.js';
import { EmbeddedEngine } from './embedded.js';
import { HttpEngine } from './http.js';

export function createEngine(config: Config): ClickHouseEngine {
  const defaults = baseSettings(config.limits.maxExecutionTimeSeconds);
  return config.clickhouse.kind === 'embedded'
    ? new EmbeddedEngine(config.clickhouse.dataDir, defaults)
    : new HttpEngine(config.clickhouse, defaults);
}
