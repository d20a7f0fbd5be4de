/**
 * Seeded random numbers for synthetic weights. Only integer and IEEE add/multiply are
 * used (no Math.log/cos), so the same seed gives the same bits on every platform and
 * Node version: `make-model` output is byte-identical for a seed.
 */

/** FNV-1a of a string, for deriving one independent stream per tensor name. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** sfc32: small, fast, statistically solid 32-bit generator. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d = 1;

  constructor(seed: number, stream = 0) {
    this.#a = seed >>> 0;
    this.#b = stream >>> 0;
    this.#c = 0x9e3779b9;
    for (let i = 0; i < 16; i++) this.nextUint32(); // mix the seed in
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * Approximately standard normal: Irwin-Hall sum of four uniforms, centred and scaled to
   * unit variance (bounded at +-3.46, which suits weight initialisation).
   */
  normal(): number {
    return (this.uniform() + this.uniform() + this.uniform() + this.uniform() - 2) * 1.7320508075688772;
  }
}
