import type { Command } from 'commander'

/**
 * `louder device init [--dir DIR] [--force]` makes this machine's capture key; `louder device sign --dir DIR
 * RECORD.json` signs a capture record with it (hand-made records, tests). The key is then requested with
 * POST /api/v1/devices and approved by an editor or admin.
 */
export function registerDevice(program: Command): void {
  const device = program.command('device').description('a capture device key: make one, sign capture records with it')

  device
    .command('init')
    .description('create an Ed25519 device key (private key file mode 0600) and print its key id and public key')
    .option('--dir <dir>', 'the device directory (default ~/.louder/device)')
    .option('--force', 'replace an existing key')
    .action(async (opts: { dir?: string; force?: boolean }) => {
      // Loaded when the command runs, so `louder --help` and other commands start fast.
      const { DEFAULT_DEVICE_DIR, initDeviceKey } = await import('../device-keys.ts')
      const info = await initDeviceKey(opts.dir ?? DEFAULT_DEVICE_DIR, opts.force ?? false)
      process.stdout.write(`key id: ${info.keyId}\npublic key: ${info.publicKey}\n`)
      process.stderr.write('Request its registration with POST /api/v1/devices {"publicKey", "name"}; an editor or admin then approves it.\n')
    })

  device
    .command('sign')
    .description("print the base64 Ed25519 signature of a capture record over its RFC 8785 canonical JSON")
    .option('--dir <dir>', 'the device directory (default ~/.louder/device)')
    .argument('<record>', 'the capture record (JSON)')
    .action(async (record: string, opts: { dir?: string }) => {
      const { DEFAULT_DEVICE_DIR, signRecordFile } = await import('../device-keys.ts')
      process.stdout.write(`${await signRecordFile(opts.dir ?? DEFAULT_DEVICE_DIR, record)}\n`)
    })
}
