/**
 * Debian's Chromium driven by playwright-core (no browser download here: .ci/run installs the
 * `chromium` package with apt), headless, in a fresh profile dir removed on close.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export interface Browser {
  readonly context: BrowserContext
  close(): Promise<void>
}

export async function launchChromium(viewport = { width: 1280, height: 1000 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'wb-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport, timeout: 60_000 })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
