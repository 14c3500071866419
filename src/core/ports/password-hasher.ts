/** Slow, salted password hashing (argon2id in src/protection/passwords.ts). */
export interface PasswordHasher {
  hash(password: string): Promise<string>
  verify(passwordHash: string, password: string): Promise<boolean>
  generate(): string
}
