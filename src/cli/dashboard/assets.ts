/**
 * The page's static files: the HTML, script and style next to this module (`assets/`, copied to
 * dist/ by the build), and uPlot's browser build (MIT): bundled into `assets/vendor/` by the build
 * (scripts/copy-dashboard-assets.mjs), or read from the `uplot` dev dependency when run from the
 * sources. Read once and kept in memory; only these names are served.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

export interface Asset {
  readonly type: string
  readonly body: Buffer
}

const OWN: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}
const VENDOR: Readonly<Record<string, string>> = {
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
}

const cache = new Map<string, Asset>()

/** The asset `name`, or undefined when it is not one of the page's files. */
export function asset(name: string): Asset | undefined {
  const known = cache.get(name)
  if (known !== undefined) return known
  const type = OWN[name] ?? VENDOR[name]
  if (type === undefined) return undefined
  const found = { type, body: readFileSync(OWN[name] === undefined ? vendorPath(name) : fileURLToPath(new URL(`./assets/${name}`, import.meta.url))) }
  cache.set(name, found)
  return found
}

function vendorPath(name: string): string {
  const bundled = fileURLToPath(new URL(`./assets/vendor/${name}`, import.meta.url))
  if (existsSync(bundled)) return bundled
  return createRequire(import.meta.url).resolve(`uplot/dist/${name}`)
}
