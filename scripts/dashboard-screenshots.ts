// Regenerates the README's dashboard screenshots (docs/dashboard-live.png, docs/dashboard-results.png):
// the simulator compares memory, log and disk against the same kill -9, driven from the page in
// Debian's Chromium.   npx tsx scripts/dashboard-screenshots.ts
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startDashboardServer } from '../src/cli/dashboard/server.js'
import { simulatorSource } from '../src/cli/dashboard/simulator-source.js'
import { Simulator } from '../src/cli/sim/simulator.js'
import { launchChromium } from '../test/helpers/browser.js'

const DOCS = fileURLToPath(new URL('../docs/', import.meta.url))
const WAIT = { timeout: 120_000 }

const simulator = new Simulator()
const server = await startDashboardServer(simulatorSource(simulator))
const browser = await launchChromium({ width: 1280, height: 1000 })
try {
  const page = await browser.context.newPage()
  await page.goto(server.url)
  await page.waitForSelector('#conn[data-state="open"]', WAIT)
  await page.fill('#crash-after', '4')
  await page.click('#compare')
  // The live view: the log run, three seconds into its writing.
  await page.waitForSelector('#phase[data-phase="writing"][data-run="2"]', WAIT)
  await page.waitForTimeout(3000)
  mkdirSync(DOCS, { recursive: true })
  await page.screenshot({ path: `${DOCS}dashboard-live.png` })
  await page.waitForSelector('#results tbody tr:nth-child(3)', WAIT)
  await page.locator('#outcome').screenshot({ path: `${DOCS}dashboard-results.png` })
  for (const r of simulator.state().results) console.log(`${r.settings.durability}: ${r.acked} acked, ${r.lost} lost, ${r.recovered} recovered`)
} finally {
  await browser.close()
  await server.close()
  await simulator.close()
}
