import { createHash, randomBytes } from 'node:crypto'

/**
 * An RFC 3161 TimeStampReq (§2.4.1) in DER, written by hand: it is five fixed fields, and building it here
 * spares the server a process per checkpoint.
 *
 *   TimeStampReq ::= SEQUENCE { version INTEGER (1), messageImprint MessageImprint,
 *                               nonce INTEGER, certReq BOOLEAN TRUE }
 *
 * certReq asks the TSA to put its certificate in the reply, so the reply verifies with the CA file alone.
 */
const SHA256_ALGORITHM = Buffer.from('300d06096086480165030402010500', 'hex')

export function timestampRequest(data: Buffer | string): { der: Buffer; nonce: Buffer; digest: Buffer } {
  const digest = createHash('sha256').update(data).digest()
  const nonce = randomBytes(8)
  // A positive INTEGER in minimal DER: top bit clear, and a non-zero first byte.
  nonce[0] = (nonce[0]! & 0x3f) | 0x40
  const imprint = Buffer.concat([Buffer.from([0x30, SHA256_ALGORITHM.length + 2 + digest.length]), SHA256_ALGORITHM, Buffer.from([0x04, digest.length]), digest])
  const body = Buffer.concat([Buffer.from([0x02, 0x01, 0x01]), imprint, Buffer.from([0x02, nonce.length]), nonce, Buffer.from([0x01, 0x01, 0xff])])
  return { der: Buffer.concat([Buffer.from([0x30, body.length]), body]), nonce, digest }
}
