/** Flags of the HTTP benchmark: `npm run bench -- http --duration 10 --subjects 1000000`. */
export interface HttpBenchOptions {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  /** The small data set every read scenario uses. */
  smallSubjects: number;
  /** The large data set of the `size` scenario (1,000,000 for the figure). */
  subjects: number;
  /** Length of the read measurement on the large set (600 for the 10-minute memory check). */
  sizeDurationSeconds: number;
  /** Reads over the large set before that window, unmeasured, so it starts with the vault's heap at its working size. */
  sizeWarmupSeconds: number;
  /** The vault's subject-key cache size (PDVAULT_SUBJECT_KEY_CACHE_ENTRIES); 0 leaves the default. */
  subjectKeyCache: number;
  /** The embedded PostgreSQL's shared_buffers in MiB; 0 leaves its default (128). */
  databaseCacheMb: number;
  /** Writes a V8 CPU profile of the audited vault to bench/results/profiles/. */
  cpuProfile: boolean;
  /** A PostgreSQL server to make the bench database on; an embedded one when unset. */
  databaseServerUrl: string | undefined;
}

const NUMERIC: Record<string, keyof HttpBenchOptions> = {
  '--duration': 'durationSeconds',
  '--warmup': 'warmupSeconds',
  '--connections': 'connections',
  '--small-subjects': 'smallSubjects',
  '--subjects': 'subjects',
  '--size-duration': 'sizeDurationSeconds',
  '--size-warmup': 'sizeWarmupSeconds',
  '--subject-key-cache': 'subjectKeyCache',
  '--database-cache': 'databaseCacheMb',
};

export const HTTP_FLAGS_HELP =
  '--duration <s> (10)  --warmup <s> (2)  --connections <n> (64)  --subjects <n> (100000)  --small-subjects <n> (10000)  --size-duration <s> (= duration)  --size-warmup <s> (half the window, at most 300)  --subject-key-cache <n> (the vault default)  --database-cache <MiB> (128, the embedded default)  --cpu-prof';

export function parseHttpOptions(flags: string[], databaseServerUrl: string | undefined): HttpBenchOptions {
  const options: HttpBenchOptions = {
    durationSeconds: 10,
    warmupSeconds: 2,
    connections: 64,
    smallSubjects: 10_000,
    subjects: 100_000,
    sizeDurationSeconds: 0,
    sizeWarmupSeconds: 0,
    subjectKeyCache: 0,
    databaseCacheMb: 0,
    cpuProfile: false,
    databaseServerUrl,
  };
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    if (flag === '--cpu-prof') {
      options.cpuProfile = true;
      continue;
    }
    const key = NUMERIC[flag];
    const value = Number(flags[i + 1]);
    if (!key || !Number.isFinite(value) || value < 0) throw new Error(`bad flag ${flag} ${flags[i + 1] ?? ''}; flags: ${HTTP_FLAGS_HELP}`);
    (options[key] as number) = value;
    i += 1;
  }
  options.sizeDurationSeconds ||= options.durationSeconds;
  if (!flags.includes('--size-warmup')) options.sizeWarmupSeconds = Math.min(300, Math.round(options.sizeDurationSeconds / 2));
  if (options.subjects < options.smallSubjects) throw new Error('--subjects must be at least --small-subjects');
  if (options.databaseCacheMb > 0 && databaseServerUrl) throw new Error('--database-cache sizes the embedded PostgreSQL; a DATABASE_URL server keeps its own settings');
  return options;
}
