/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core): the page loads with
 * its token, streams the live view, starts a run at memory, injects a kill -9 from its button, and
 * shows the lost acknowledged writes; the figure on the page must equal the simulator's and an
 * independent count from the saved ledger and the store's rows. Then the same at log: none lost.
 * Waits on page state only, never on fixed sleeps.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { startDashboardServer, type DashboardServer } from '../../src/cli/dashboard/server.js'
import { simulatorSource } from '../../src/cli/dashboard/simulator-source.js'
import type { RunResult } from '../../src/cli/sim/run.js'
import { Simulator } from '../../src/cli/sim/simulator.js'
import { launchChromium, type Browser } from '../helpers/browser.js'
import { independentLoss } from '../helpers/sim-loss.js'

const WAIT = { timeout: 45_000 }

/** The page's globals as the waits below use them (Node's types have no DOM; the page's CSP forbids string evaluation). */
type InPage = { document: { querySelector(selector: string): { textContent: string | null } | null } }

describe('the dashboard in Chromium', { timeout: 120_000 }, () => {
  let simulator: Simulator
  let server: DashboardServer
  let browser: Browser
  let page: Page
  const errors: string[] = []

  before(async () => {
    simulator = new Simulator()
    server = await startDashboardServer(simulatorSource(simulator))
    browser = await launchChromium()
    page = await browser.context.newPage()
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(server.url)
    await page.waitForSelector('#conn[data-state="open"]', WAIT)
  })
  after(async () => {
    await browser?.close()
    await server?.close()
    await simulator?.close()
  })

  /** Starts a run at `durability` from the form, waits for live numbers, kills it from the page, and returns what the page shows. */
  async function killRunAt(durability: string, runId: number): Promise<{ shown: number; rowLost: number; result: RunResult }> {
    await page.selectOption('select[name="durability"]', durability)
    await page.fill('input[name="intervalMs"]', '2000')
    await page.setChecked('#auto-crash', false)
    await page.click('#start')
    await page.waitForSelector(`#phase[data-phase="writing"][data-run="${runId}"]`, WAIT)
    // Live numbers arrive: acknowledged writes counted and the writes/s tile filled.
    await page.waitForFunction(() => Number(((globalThis as unknown as InPage).document.querySelector('#v-acked')?.textContent ?? '').replace(/[^0-9.]/g, '')) > 0, null, WAIT)
    await page.waitForFunction(() => /\d/.test((globalThis as unknown as InPage).document.querySelector('#v-writes')?.textContent ?? ''), null, WAIT)
    await page.click('[data-fault="kill"]')
    await page.waitForSelector(`#last-lost[data-run="${runId}"]`, WAIT)
    const shown = Number((await page.textContent('#last-lost'))?.replace(/,/g, ''))
    const rowLost = Number(await page.getAttribute(`#results tr[data-run="${runId}"]`, 'data-lost'))
    const result = simulator.state().results.find((r) => r.id === runId) as RunResult
    return { shown, rowLost, result }
  }

  it('loads with the token, shows the simulator and its charts', async () => {
    assert.equal(await page.isVisible('#sim'), true)
    assert.equal(await page.locator('.uplot').count(), 4)
    assert.equal(await page.inputValue('select[name="durability"]'), 'log')
  })

  it('memory: a kill -9 from the page loses writes, and the page shows exactly the checked count', async () => {
    const { shown, rowLost, result } = await killRunAt('memory', 1)
    assert.equal(result.error, undefined)
    assert.ok(result.lost > 0, 'memory lost nothing')
    assert.equal(shown, result.lost)
    assert.equal(rowLost, result.lost)
    assert.equal(shown, await independentLoss(result))
    assert.match((await page.textContent(`#results tr[data-run="1"]`)) ?? '', /memory\s*kill -9/)
  })

  it('log: the same kill loses none, and the page says 0', async () => {
    const { shown, rowLost, result } = await killRunAt('log', 2)
    assert.equal(result.error, undefined)
    assert.ok(result.missingAtCrash > 0)
    assert.equal(shown, 0)
    assert.equal(rowLost, 0)
    assert.equal(await independentLoss(result), 0)
    assert.equal(await page.locator('#results tbody tr').count(), 2)
    assert.deepEqual(errors, [], 'no script error on the page')
  })
})
