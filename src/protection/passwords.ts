import { hash, verify } from '@node-rs/argon2'
import { randomBytes } from 'node:crypto'

/** argon2id with the OWASP 2023 baseline (19 MiB, 2 passes); the parameters travel inside each hash. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 })
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}

/** A password for people to type once: 20 characters from an alphabet without look-alikes (~114 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
  const bytes = randomBytes(40)
  let out = ''
  for (const b of bytes) {
    if (b < alphabet.length * 4) out += alphabet[b % alphabet.length]
    if (out.length === 20) break
  }
  return out.length === 20 ? out : generatePassword()
}
