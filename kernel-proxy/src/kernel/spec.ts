export const KERNEL_NAME = 'clickhouse';

export const LANGUAGE_INFO = {
  name: 'sql',
  version: '',
  mimetype: 'text/x-clickhouse-sql',
  file_extension: '.sql',
  codemirror_mode: 'text/x-clickhouse-sql',
  pygments_lexer: 'sql',
} as const;

/** The kernelspec as `GET /api/kernelspecs` lists it. */
export const KERNEL_SPEC = {
  name: KERNEL_NAME,
  spec: {
    argv: [],
    display_name: 'ClickHouse SQL',
    language: 'sql',
    interrupt_mode: 'message',
    env: {},
    metadata: { chlab: { cells: ['sql', '%%migrate', '%%s3', '%%duckdb'] } },
  },
  resources: {} as Record<string, string>,
} as const;

export const ARROW_MIME = 'application/vnd.apache.arrow.stream';
