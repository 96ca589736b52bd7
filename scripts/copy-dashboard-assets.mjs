// Part of `npm run build`: tsc copies no static files, so this puts the dashboard's page (HTML,
// script, style) next to the built server, and bundles uPlot's browser build (MIT, its license
// header kept, its LICENSE beside it) into assets/vendor/, so the packed CLI needs no runtime
// dependency to serve its charts.
import { copyFileSync, cpSync, existsSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const from = join(root, 'src/cli/dashboard/assets')
const to = join(root, 'dist/cli/dashboard/assets')
cpSync(from, to, { recursive: true })
const uplotDist = dirname(createRequire(join(root, 'package.json')).resolve('uplot/dist/uPlot.iife.min.js'))
const vendor = join(to, 'vendor')
mkdirSync(vendor, { recursive: true })
for (const name of ['uPlot.iife.min.js', 'uPlot.min.css']) copyFileSync(join(uplotDist, name), join(vendor, name))
const license = join(uplotDist, '..', 'LICENSE')
if (!existsSync(license)) throw new Error(`uPlot's LICENSE is missing at ${license}: it must ship with the bundled copy`)
copyFileSync(license, join(vendor, 'uPlot.LICENSE'))
