/**
 * A date a caller sends (a birth date, a card's expiry month) is a day in a time zone the vault
 * does not know. The zones in use run from UTC−12, the last to reach a day, to UTC+14, the first.
 */
const LAST_ZONE_HOURS = -12;
const FIRST_ZONE_HOURS = 14;

/** The calendar day (`YYYY-MM-DD`) at `now` in the zone `offsetHours` from UTC. */
const dayAt = (now: Date, offsetHours: number) => new Date(now.getTime() + offsetHours * 3_600_000).toISOString().slice(0, 10);

/** Today where it began last: a day on or before it has begun everywhere. */
export const dayBegunEverywhere = (now: Date) => dayAt(now, LAST_ZONE_HOURS);

/** Today where it began first: a day after it has begun nowhere. */
export const dayBegunSomewhere = (now: Date) => dayAt(now, FIRST_ZONE_HOURS);
