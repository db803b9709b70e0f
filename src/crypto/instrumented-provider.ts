import { KeyProviderError, type EncryptionContext, type KeyProvider, type ProviderOperation } from './key-provider';
import type { KeyMetrics } from './key-metrics';

/** Counts every provider call by operation and outcome, whichever provider it is. */
export function instrumentProvider(provider: KeyProvider, metrics: KeyMetrics): KeyProvider {
  const counted = async <T>(operation: ProviderOperation, call: () => Promise<T>): Promise<T> => {
    try {
      const result = await call();
      metrics.providerCall(operation, 'success');
      return result;
    } catch (error) {
      metrics.providerCall(operation, error instanceof KeyProviderError ? error.reason : 'unavailable');
      throw error;
    }
  };
  return {
    name: provider.name,
    generateDataKey: (context: EncryptionContext) => counted('generate_data_key', () => provider.generateDataKey(context)),
    decryptDataKey: (wrapped, context, ref) => counted('decrypt', () => provider.decryptDataKey(wrapped, context, ref)),
    reEncryptDataKey: (wrapped, context, ref) => counted('re_encrypt', () => provider.reEncryptDataKey(wrapped, context, ref)),
    describe: () => counted('describe_key', () => provider.describe()),
    close: () => provider.close?.(),
    ...(provider.describeKey ? { describeKey: (keyId: string | undefined) => counted('describe_key', () => provider.describeKey!(keyId)) } : {}),
    ...(provider.useKey ? { useKey: (keyRef: string) => provider.useKey!(keyRef) } : {}),
    ...(provider.currentKeyRef ? { currentKeyRef: () => provider.currentKeyRef!() } : {}),
  };
}
