import { describe, expect, it } from 'vitest';

import { bfloat16BitsToFloat, float16BitsToFloat, floatToBfloat16Bits, floatToFloat16Bits } from '../../src/util/half.js';

describe('fp16 / bf16 conversion', () => {
  it('encodes known fp16 values', () => {
    expect(floatToFloat16Bits(1)).toBe(0x3c00);
    expect(floatToFloat16Bits(-2)).toBe(0xc000);
    expect(floatToFloat16Bits(65504)).toBe(0x7bff);
    expect(floatToFloat16Bits(1e6)).toBe(0x7c00); // overflow -> inf
    expect(floatToFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(floatToFloat16Bits(2 ** -26)).toBe(0x0000); // underflow
    expect(floatToFloat16Bits(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('rounds fp16 to nearest even', () => {
    // 1 + 2^-11 lies exactly between 1 and 1 + 2^-10: ties to even (1).
    expect(floatToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3 * 2^-11 lies between 1 + 2^-10 (odd) and 1 + 2^-9 (even): ties to even.
    expect(floatToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('round-trips every finite fp16 value', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue;
      const value = float16BitsToFloat(bits);
      const back = floatToFloat16Bits(value);
      if (value === 0) expect(back & 0x7fff).toBe(0);
      else expect(back).toBe(bits);
    }
  });

  it('encodes bf16 with round to nearest even', () => {
    expect(floatToBfloat16Bits(1)).toBe(0x3f80);
    expect(bfloat16BitsToFloat(0x3f80)).toBe(1);
    expect(floatToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(floatToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bfloat16BitsToFloat(floatToBfloat16Bits(Number.NaN)))).toBe(true);
  });
});
