import { fillPublicRandom, publicRandomBytes } from '../../src/crypto/public-random';

describe('random bytes for nonces and ids, from a block the generator fills at once', () => {
  it('never hands out the same 12 bytes twice across hundreds of refills', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 50_000; n++) seen.add(publicRandomBytes(12).toString('hex'));
    expect(seen.size).toBe(50_000);
  });

  it('hands out buffers that later draws never change', () => {
    const first = publicRandomBytes(16);
    const copy = Buffer.from(first);
    for (let n = 0; n < 10_000; n++) publicRandomBytes(16);
    expect(first).toEqual(copy);
    expect(first.equals(Buffer.alloc(16))).toBe(false);
  });

  it('writes exactly the range asked for, at any offset, including past a block boundary', () => {
    for (let n = 0; n < 1_000; n++) {
      const target = Buffer.alloc(40, 0xaa);
      fillPublicRandom(target, 5, 23);
      expect(target.subarray(0, 5).every((b) => b === 0xaa)).toBe(true);
      expect(target.subarray(28).every((b) => b === 0xaa)).toBe(true);
      // 23 random bytes all equal to the fill value: chance 2^-184.
      expect(target.subarray(5, 28).every((b) => b === 0xaa)).toBe(false);
    }
  });

  it('serves a request longer than it takes from a block straight from the generator', () => {
    const a = publicRandomBytes(1000);
    const b = publicRandomBytes(1000);
    expect(a).toHaveLength(1000);
    expect(a.equals(b)).toBe(false);
    expect(new Set(a).size).toBeGreaterThan(200);
  });
});
