/** Compact text encodings of weight vectors for model files: float32 (little-endian) and int8 with a scale, base64. */

export function encodeFloat32(a: Float32Array): string {
  const bytes = new Uint8Array(a.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i]!, true);
  return Buffer.from(bytes).toString('base64');
}

export function decodeFloat32(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length % 4 !== 0) throw new Error('weights: base64 payload is not a whole number of float32s');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Raw int8 values as base64 (decodeInt8Raw's inverse). */
export function encodeInt8Raw(a: Int8Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** Symmetric int8 quantisation: scale = max|w| / 127, so the largest weight is exact and the rest within scale/2. */
export function encodeInt8(a: ArrayLike<number>): { q: string; scale: number } {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
  const scale = max > 0 ? max / 127 : 0;
  const bytes = new Int8Array(a.length);
  if (scale > 0) for (let i = 0; i < a.length; i++) bytes[i] = Math.round(a[i]! / scale);
  return { q: encodeInt8Raw(bytes), scale: Number(scale.toPrecision(9)) };
}

/** Decodes to float32 (value * scale); `length` is checked so a truncated table is refused, not zero-filled. */
export function decodeInt8(t: { q: string; scale: number }, length: number): Float32Array {
  const raw = decodeInt8Raw(t, length);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = raw[i]! * t.scale;
  return out;
}

/** The raw int8 table (no scaling): what the scorer keeps in memory, a quarter of float32's size. */
export function decodeInt8Raw(t: { q: string }, length: number): Int8Array {
  const bytes = Buffer.from(t.q, 'base64');
  if (bytes.length !== length) throw new Error(`int8 table has ${bytes.length} entries, expected ${length}`);
  return new Int8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
