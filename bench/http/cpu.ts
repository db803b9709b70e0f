import fs from 'node:fs';

/**
 * CPU time spent by a process, and by every PostgreSQL process on the machine, read from
 * /proc. Throughput on a shared 2-core machine swings with whatever else runs; CPU per
 * request is what a change to the vault's own code moves, and it says where the time goes.
 */
const TICKS_PER_SECOND = 100; // USER_HZ, the unit of /proc/<pid>/stat on Linux

export interface CpuReading {
  server: number;
  postgres: number;
}

export function readCpu(serverPid: number): CpuReading | undefined {
  const server = processSeconds(serverPid);
  if (server === undefined) return undefined;
  let postgres = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    // A backend that exits hands its time to the postmaster's children's time: count both.
    if (stat && stat.comm === 'postgres') postgres += stat.seconds + stat.childSeconds;
  }
  return { server, postgres };
}

function processSeconds(pid: number): number | undefined {
  return readStat(pid)?.seconds;
}

function readStat(pid: number): { comm: string; seconds: number; childSeconds: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone, or not Linux
  }
  // The command name sits in parentheses and may itself contain spaces or parentheses.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // Fields 14 to 17 of stat (utime, stime, cutime, cstime) are at 11 to 14 once pid and comm are cut off.
  const ticks = (i: number) => Number(fields[i]) / TICKS_PER_SECOND;
  return { comm, seconds: ticks(11) + ticks(12), childSeconds: ticks(13) + ticks(14) };
}
