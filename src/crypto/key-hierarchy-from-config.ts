import type { Knex } from 'knex';
import { ConfigError, type Config } from '../config/config';
import type { Logger } from '../observability/logger';
import { AwsKmsProvider } from './aws-kms-provider';
import { KeyHierarchy } from './key-hierarchy';
import type { KeyMetrics } from './key-metrics';
import type { KeyProvider } from './key-provider';
import { LocalKeyring } from './local-keyring';

/**
 * The provider the configuration names. Checked here rather than in loadConfig, so commands
 * that never touch keys (`pdvault migrate`) need no KMS settings.
 */
export function keyProviderFromConfig(config: Pick<Config, 'keys' | 'mode' | 'dataDir'>, logger: Logger): KeyProvider {
  const { keys } = config;
  if (keys.provider === 'aws') {
    if (!keys.kms.keyId) throw new ConfigError('PDVAULT_KMS_KEY_ID is required when PDVAULT_KEY_PROVIDER is aws');
    return new AwsKmsProvider({
      keyId: keys.kms.keyId,
      region: keys.kms.region,
      endpoint: keys.kms.endpoint,
      deadlineMs: keys.kms.deadlineMs,
      maxAttempts: keys.kms.maxAttempts,
    });
  }
  if (config.mode === 'production' && !keys.allowLocalKeyringInProduction) {
    throw new ConfigError('the local keyring is refused in production mode: set PDVAULT_KEY_PROVIDER=aws (or PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION=true on a test rig)');
  }
  return LocalKeyring.openOrCreate(config.dataDir, logger);
}

export function keyHierarchyFromConfig(
  config: Pick<Config, 'keys' | 'mode' | 'dataDir'>,
  deps: { db: Knex; logger: Logger; metrics?: KeyMetrics; now?: () => number },
): KeyHierarchy {
  const provider = keyProviderFromConfig(config, deps.logger);
  return new KeyHierarchy(
    {
      kekCacheMaxAgeMs: config.keys.kekCacheMaxAgeMs,
      kekCacheStaleMs: config.keys.kekCacheStaleMs,
      kekMaxWraps: config.keys.kekMaxWraps,
      subjectKeyCacheSize: config.keys.subjectKeyCacheSize,
    },
    { db: deps.db, provider, logger: deps.logger, metrics: deps.metrics, now: deps.now },
  );
}
