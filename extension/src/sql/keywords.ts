/**
 * Word lists for the ClickHouse SQL dialect.
 *
 * Kept in ClickHouse's own spelling; the dialect lower-cases them because the
 * `@codemirror/lang-sql` tokenizer matches words case-insensitively.
 */

export const CLICKHOUSE_KEYWORDS: readonly string[] = [
  // Queries
  'select', 'distinct', 'from', 'final', 'sample', 'array', 'join', 'left', 'right', 'full',
  'inner', 'outer', 'cross', 'semi', 'anti', 'any', 'all', 'asof', 'paste', 'global', 'local',
  'on', 'using', 'prewhere', 'where', 'group', 'by', 'with', 'rollup', 'cube', 'totals',
  'having', 'qualify', 'order', 'asc', 'ascending', 'desc', 'descending', 'nulls', 'first',
  'last', 'collate', 'fill', 'step', 'to', 'interpolate', 'limit', 'offset', 'fetch', 'next',
  'row', 'rows', 'only', 'ties', 'top', 'union', 'except', 'intersect', 'into', 'outfile',
  'format', 'settings', 'window', 'over', 'partition', 'range', 'unbounded', 'preceding',
  'following', 'current', 'as', 'and', 'or', 'not', 'in', 'is', 'like', 'ilike', 'between',
  'case', 'when', 'then', 'else', 'end', 'if', 'exists', 'cast', 'interval', 'extract',
  'recursive', 'values', 'default', 'grouping', 'sets', 'materialized', 'alias', 'ephemeral',
  // Data definition
  'create', 'alter', 'drop', 'truncate', 'rename', 'exchange', 'attach', 'detach', 'table',
  'tables', 'database', 'databases', 'view', 'live', 'dictionary', 'dictionaries', 'function',
  'functions', 'temporary', 'replace', 'engine', 'primary', 'key', 'order', 'ttl', 'codec',
  'comment', 'column', 'columns', 'index', 'indexes', 'projection', 'constraint', 'check',
  'assume', 'type', 'granularity', 'add', 'modify', 'clear', 'remove', 'move', 'after',
  'freeze', 'unfreeze', 'fetch', 'disk', 'volume', 'source', 'layout', 'lifetime', 'refresh',
  'every', 'append', 'empty', 'populate', 'cluster', 'permanently', 'sync', 'no',
  'delay', 'deduplicate', 'cleanup', 'mutation', 'materialize', 'recompress', 'reset',
  'setting',
  // Data manipulation and administration
  'insert', 'update', 'delete', 'optimize', 'kill', 'query', 'test', 'show', 'describe',
  'explain', 'ast', 'syntax', 'plan', 'pipeline', 'estimate', 'use', 'set', 'system', 'grant',
  'revoke', 'role', 'user', 'identified', 'quota', 'profile', 'policy', 'privileges', 'watch',
  'events', 'processlist', 'check', 'undrop',
];

export const CLICKHOUSE_TYPES: readonly string[] = [
  'UInt8', 'UInt16', 'UInt32', 'UInt64', 'UInt128', 'UInt256',
  'Int8', 'Int16', 'Int32', 'Int64', 'Int128', 'Int256',
  'Float32', 'Float64', 'BFloat16',
  'Decimal', 'Decimal32', 'Decimal64', 'Decimal128', 'Decimal256',
  'Bool', 'Boolean', 'String', 'FixedString',
  'Date', 'Date32', 'DateTime', 'DateTime32', 'DateTime64', 'Time', 'Time64',
  'UUID', 'IPv4', 'IPv6', 'Enum', 'Enum8', 'Enum16',
  'LowCardinality', 'Nullable', 'Array', 'Map', 'Tuple', 'Nested', 'JSON', 'Object',
  'Dynamic', 'Variant', 'Nothing', 'AggregateFunction', 'SimpleAggregateFunction',
  'Point', 'Ring', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon',
  'IntervalNanosecond', 'IntervalMicrosecond', 'IntervalMillisecond', 'IntervalSecond',
  'IntervalMinute', 'IntervalHour', 'IntervalDay', 'IntervalWeek', 'IntervalMonth',
  'IntervalQuarter', 'IntervalYear',
  // SQL-standard aliases ClickHouse accepts
  'TinyInt', 'SmallInt', 'Int', 'Integer', 'BigInt', 'Float', 'Double', 'Real', 'Char',
  'VarChar', 'Text', 'Blob', 'Binary', 'Timestamp',
];

export const CLICKHOUSE_BUILTINS: readonly string[] = [
  // Aggregates
  'count', 'sum', 'avg', 'min', 'max', 'any', 'anyLast', 'argMin', 'argMax', 'uniq',
  'uniqExact', 'uniqCombined', 'uniqHLL12', 'quantile', 'quantiles', 'quantileExact',
  'quantileTiming', 'quantileTDigest', 'median', 'stddevPop', 'stddevSamp', 'varPop',
  'varSamp', 'corr', 'covarPop', 'covarSamp', 'groupArray', 'groupUniqArray', 'groupBitmap',
  'groupBitAnd', 'groupBitOr', 'groupBitXor', 'topK', 'sumMap', 'minMap', 'maxMap',
  'histogram', 'sequenceMatch', 'sequenceCount', 'windowFunnel', 'retention',
  'simpleLinearRegression', 'countIf', 'sumIf', 'avgIf', 'minIf', 'maxIf', 'uniqIf',
  'sumState', 'sumMerge', 'uniqState', 'uniqMerge', 'countState', 'countMerge',
  // Window functions
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead',
  'lagInFrame', 'leadInFrame', 'first_value', 'last_value', 'nth_value',
  // Conditionals and NULLs
  'if', 'multiIf', 'coalesce', 'ifNull', 'nullIf', 'isNull', 'isNotNull', 'assumeNotNull',
  'toNullable', 'greatest', 'least',
  // Conversions
  'toString', 'toFixedString', 'toInt8', 'toInt16', 'toInt32', 'toInt64', 'toInt128',
  'toInt256', 'toUInt8', 'toUInt16', 'toUInt32', 'toUInt64', 'toUInt128', 'toUInt256',
  'toFloat32', 'toFloat64', 'toDecimal32', 'toDecimal64', 'toDecimal128', 'toDecimal256',
  'toBool', 'toUUID', 'toIPv4', 'toIPv6', 'toTypeName', 'toColumnTypeName', 'reinterpret',
  'accurateCast', 'accurateCastOrNull', 'toInt64OrNull', 'toInt64OrZero', 'toFloat64OrNull',
  'toDateOrNull', 'toDateTimeOrNull', 'parseDateTimeBestEffort',
  'parseDateTimeBestEffortOrNull', 'parseDateTime64BestEffort', 'parseDateTime',
  // Dates and times
  'now', 'now64', 'today', 'yesterday', 'toDate', 'toDate32', 'toDateTime', 'toDateTime64',
  'toTimeZone', 'toUnixTimestamp', 'fromUnixTimestamp', 'fromUnixTimestamp64Milli',
  'toYear', 'toQuarter', 'toMonth', 'toWeek', 'toDayOfYear', 'toDayOfMonth', 'toDayOfWeek',
  'toHour', 'toMinute', 'toSecond', 'toStartOfYear', 'toStartOfQuarter', 'toStartOfMonth',
  'toStartOfWeek', 'toMonday', 'toStartOfDay', 'toStartOfHour', 'toStartOfMinute',
  'toStartOfFiveMinutes', 'toStartOfFifteenMinutes', 'toStartOfInterval', 'toYYYYMM',
  'toYYYYMMDD', 'toYYYYMMDDhhmmss', 'dateDiff', 'dateAdd', 'dateSub', 'dateTrunc',
  'date_diff', 'date_add', 'date_sub', 'date_trunc', 'addDays', 'addHours', 'addMonths',
  'subtractDays', 'formatDateTime', 'timeSlot', 'timeSlots', 'toIntervalDay',
  'toIntervalHour', 'toIntervalMonth',
  // Strings
  'length', 'lengthUTF8', 'empty', 'notEmpty', 'lower', 'upper', 'lowerUTF8', 'upperUTF8',
  'concat', 'concatWithSeparator', 'substring', 'substringUTF8', 'left', 'right', 'trim',
  'trimLeft', 'trimRight', 'trimBoth', 'leftPad', 'rightPad', 'reverse', 'repeat', 'format',
  'position', 'positionCaseInsensitive', 'startsWith', 'endsWith', 'match', 'multiMatchAny',
  'extract', 'extractAll', 'like', 'ilike', 'replaceOne', 'replaceAll', 'replaceRegexpOne',
  'replaceRegexpAll', 'splitByChar', 'splitByString', 'splitByRegexp', 'arrayStringConcat',
  'base64Encode', 'base64Decode', 'hex', 'unhex', 'lowerUTF8', 'normalizeQuery',
  'formatReadableSize', 'formatReadableQuantity', 'formatReadableTimeDelta',
  // Arrays, maps and tuples
  'arrayJoin', 'arrayMap', 'arrayFilter', 'arrayExists', 'arrayAll', 'arrayCount', 'arraySum',
  'arrayAvg', 'arrayMin', 'arrayMax', 'arraySort', 'arrayReverseSort', 'arrayDistinct',
  'arrayUniq', 'arrayEnumerate', 'arrayConcat', 'arraySlice', 'arrayElement', 'arrayZip',
  'arrayFlatten', 'arrayReduce', 'arrayFirst', 'arrayLast', 'has', 'hasAll', 'hasAny',
  'indexOf', 'range', 'emptyArrayString', 'tuple', 'tupleElement', 'untuple', 'map',
  'mapKeys', 'mapValues', 'mapContains',
  // JSON
  'JSONExtract', 'JSONExtractString', 'JSONExtractInt', 'JSONExtractUInt', 'JSONExtractFloat',
  'JSONExtractBool', 'JSONExtractRaw', 'JSONExtractKeys', 'JSONHas', 'JSONLength', 'JSONType',
  'simpleJSONExtractString', 'toJSONString',
  // Math, hashing, misc
  'abs', 'round', 'roundBankers', 'floor', 'ceil', 'trunc', 'sqrt', 'exp', 'log', 'log2',
  'log10', 'pow', 'power', 'intDiv', 'modulo', 'rand', 'rand64', 'randCanonical',
  'generateUUIDv4', 'generateUUIDv7', 'cityHash64', 'sipHash64', 'xxHash64', 'murmurHash3_64',
  'farmHash64', 'MD5', 'SHA1', 'SHA256', 'bar', 'currentDatabase', 'currentUser', 'version',
  'uptime', 'hostName', 'timezone', 'materialize', 'ignore', 'sleep', 'throwIf', 'dictGet',
  'dictGetOrDefault', 'dictHas', 'geoDistance', 'greatCircleDistance', 'bitmapBuild',
  'bitmapCardinality',
  // Table functions
  'numbers', 'numbers_mt', 'zeros', 'generateRandom', 'file', 'url', 's3', 's3Cluster', 'gcs',
  'azureBlobStorage', 'hdfs', 'postgresql', 'mysql', 'sqlite', 'mongodb', 'remote',
  'remoteSecure', 'cluster', 'clusterAllReplicas', 'input', 'values', 'merge', 'view',
  'deltaLake', 'iceberg', 'hudi', 'format', 'jdbc', 'odbc', 'executable',
];
