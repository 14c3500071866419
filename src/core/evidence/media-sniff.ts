/**
 * The media type from the first bytes (magic numbers), never from a client's Content-Type or a file name: a
 * file lying about its type must not choose which decoder later reads it. Unknown → application/octet-stream.
 */
export const SNIFF_BYTES = 512

const ascii = (bytes: Uint8Array, start: number, end: number) => Buffer.from(bytes.subarray(start, end)).toString('latin1')

const startsWith = (bytes: Uint8Array, magic: number[], at = 0) => magic.every((b, i) => bytes[at + i] === b)

/** ISO BMFF major brands (bytes 8–12 after `ftyp`) that are still images rather than video. */
const IMAGE_BRANDS: Record<string, string> = { heic: 'image/heic', heix: 'image/heic', heim: 'image/heic', heis: 'image/heic', mif1: 'image/heif', msf1: 'image/heif', avif: 'image/avif', avis: 'image/avif' }

export function sniffMediaType(head: Uint8Array): string {
  if (head.length === 0) return 'application/octet-stream'
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a') return 'image/gif'
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'image/webp'
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') return 'video/x-msvideo'
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WAVE') return 'audio/wav'
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'image/tiff'
  if (ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12)
    if (IMAGE_BRANDS[brand]) return IMAGE_BRANDS[brand]
    if (brand === 'qt  ') return 'video/quicktime'
    if (brand.startsWith('M4A')) return 'audio/mp4'
    return 'video/mp4'
  }
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return ascii(head, 0, SNIFF_BYTES).includes('webm') ? 'video/webm' : 'video/x-matroska'
  if (ascii(head, 0, 5) === '%PDF-') return 'application/pdf'
  if (ascii(head, 0, 3) === 'ID3' || startsWith(head, [0xff, 0xfb])) return 'audio/mpeg'
  if (ascii(head, 0, 4) === 'OggS') return 'audio/ogg'
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) return 'application/zip'
  // SVG is text: only when it says so near the start. It is kept as evidence and never rendered or decoded here.
  const text = ascii(head, 0, SNIFF_BYTES).replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart()
  if (text.startsWith('<') && /<svg[\s>]/i.test(text)) return 'image/svg+xml'
  return 'application/octet-stream'
}
