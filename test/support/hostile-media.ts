/** Hostile media the tests build on the spot. */
import { crc32 } from 'node:zlib'
import sharp from 'sharp'

/** A valid 8×8 PNG whose header (IHDR, CRC fixed up) claims 100,000 × 100,000 pixels: 10 gigapixels. */
export async function pngBomb(): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0a0' } }).png().toBuffer())
  png.writeUInt32BE(100_000, 16)
  png.writeUInt32BE(100_000, 20)
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29)
  return png
}
