/** The first instant an RFC 3339 answer cannot write (its years have four digits). */
const END_OF_YEAR_9999 = Date.UTC(10000, 0, 1);

/**
 * Reads a client expiry: an RFC 3339 date-time, or a date alone, which means the contract
 * runs through that whole day (UTC) and ends at the next midnight. A date or time that does not
 * exist (30 February, 24:00) is refused, not rolled over into a later one: a mistyped end of
 * contract must not quietly lengthen it. So is an expiry the answers could not write back.
 */
export function parseExpiry(value: string): Date | undefined {
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (dateOnly) {
    const [, y, m, d] = dateOnly.map(Number) as [number, number, number, number];
    const day = calendarDay(y, m, d);
    return day === undefined ? undefined : representable(day + 24 * 3600 * 1000);
  }
  const dateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:(Z)|([+-])(\d{2}):(\d{2}))$/i.exec(value);
  if (!dateTime) return undefined;
  const [, y, mo, d, h, mi, s, fraction, , sign, oh, om] = dateTime;
  const day = calendarDay(Number(y), Number(mo), Number(d));
  if (day === undefined || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  if (sign && (Number(oh) > 23 || Number(om) > 59)) return undefined;
  const offsetMs = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000 : 0;
  const millis = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  return representable(day + ((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1000 + millis - offsetMs);
}

/** Midnight (UTC) of that day, if the calendar has it. */
function calendarDay(year: number, month: number, day: number): number | undefined {
  const date = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC maps years 0–99 to 1900–1999; setting the year again keeps them as written.
  date.setUTCFullYear(year);
  const exists = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return exists ? date.getTime() : undefined;
}

const representable = (instant: number): Date | undefined => (instant < END_OF_YEAR_9999 ? new Date(instant) : undefined);
