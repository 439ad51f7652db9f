/** Date and time text in ClickHouse's own style: `2024-05-01 13:45:00.123`. */

const MS_PER_DAY = 86_400_000;
const MAX_DATE_MS = 8.64e15;

const zoneFormatters = new Map<string, Intl.DateTimeFormat | null>();

function zoneFormatter(timeZone: string): Intl.DateTimeFormat | null {
  if (!zoneFormatters.has(timeZone)) {
    let formatter: Intl.DateTimeFormat | null;
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit'
      });
    } catch {
      formatter = null;
    }
    zoneFormatters.set(timeZone, formatter);
  }
  return zoneFormatters.get(timeZone) ?? null;
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

function yearText(year: number): string {
  return year < 0 ? `-${pad(-year, 4)}` : pad(year, 4);
}

function utcWallClock(date: Date): string {
  return (
    `${yearText(date.getUTCFullYear())}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

function zonedWallClock(date: Date, formatter: Intl.DateTimeFormat): string {
  const parts: Record<string, string> = {};
  for (const part of formatter.formatToParts(date)) {
    parts[part.type] = part.value;
  }
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

function isUtc(timeZone: string | undefined): boolean {
  return !timeZone || /^(UTC|GMT|Etc\/UTC|Etc\/GMT|Z)$/i.test(timeZone);
}

/**
 * Formats an instant given as whole seconds since the epoch plus a fraction
 * already written as digits (e.g. "123456" for microseconds).
 *
 * Without a time zone the wall clock is UTC, which is how Arrow defines
 * time-zone-naive timestamps.
 */
export function formatDateTime(
  epochSeconds: bigint | number,
  fractionDigits = '',
  timeZone?: string
): string {
  const ms = Number(epochSeconds) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) {
    return String(epochSeconds);
  }
  const date = new Date(ms);
  const formatter = isUtc(timeZone) ? null : zoneFormatter(timeZone!);
  const wallClock = formatter ? zonedWallClock(date, formatter) : utcWallClock(date);
  return fractionDigits ? `${wallClock}.${fractionDigits}` : wallClock;
}

/** Splits an integer timestamp in `unitsPerSecond` into seconds and fraction digits. */
export function splitTimestamp(
  value: bigint,
  unitsPerSecond: bigint
): { seconds: bigint; fraction: string } {
  let seconds = value / unitsPerSecond;
  let remainder = value % unitsPerSecond;
  if (remainder < 0n) {
    seconds -= 1n;
    remainder += unitsPerSecond;
  }
  const width = unitsPerSecond.toString().length - 1;
  return { seconds, fraction: width > 0 ? remainder.toString().padStart(width, '0') : '' };
}

/** Trims or pads fraction digits to a ClickHouse DateTime64 precision. */
export function fitFraction(fraction: string, precision: number | undefined): string {
  if (precision === undefined) {
    return fraction;
  }
  return precision <= fraction.length
    ? fraction.slice(0, precision)
    : fraction.padEnd(precision, '0');
}

/** `2024-05-01` from days since the epoch. */
export function formatDateFromDays(days: number): string {
  return formatDateFromMs(days * MS_PER_DAY);
}

export function formatDateFromMs(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) {
    return String(ms);
  }
  const date = new Date(ms);
  return `${yearText(date.getUTCFullYear())}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** `13:45:07.250` from a time of day in the given unit. */
export function formatTimeOfDay(value: bigint, unitsPerSecond: bigint): string {
  const { seconds, fraction } = splitTimestamp(value, unitsPerSecond);
  const total = Number(seconds);
  const sign = total < 0 ? '-' : '';
  const abs = Math.abs(total);
  const text = `${sign}${pad(Math.floor(abs / 3600))}:${pad(Math.floor(abs / 60) % 60)}:${pad(abs % 60)}`;
  return fraction ? `${text}.${fraction}` : text;
}
