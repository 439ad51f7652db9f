/**
 * `setUp` run once and shared by every caller; after a failure the next call tries again (e.g. creating a table
 * while ClickHouse is briefly unreachable).
 */
export function onceUntilFailed(setUp: () => Promise<void>): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= setUp().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
}
