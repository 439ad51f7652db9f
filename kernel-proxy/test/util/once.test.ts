import { describe, expect, it } from 'vitest';
import { onceUntilFailed } from '../../src/util/once.js';

describe('onceUntilFailed', () => {
  it('runs the set-up once for every caller, and again after it failed', async () => {
    let calls = 0;
    let fail = true;
    const ensure = onceUntilFailed(async () => {
      calls++;
      if (fail) throw new Error('ClickHouse is not up yet');
    });
    await expect(Promise.all([ensure(), ensure()])).rejects.toThrow('ClickHouse is not up yet');
    expect(calls).toBe(1);
    fail = false;
    await Promise.all([ensure(), ensure(), ensure()]);
    await ensure();
    expect(calls).toBe(2);
  });
});
