/**
 * The package as a stranger installs it: `npm pack` (which builds), the tarball installed into a
 * scratch project that has no drivers and no fast-check, every subpath of `exports` imported
 * from the built files by plain node (no tsx), a cache opened and flushed end to end, and the
 * `writebehind` bin run, and the tarball linted by publint (`--strict`) and are-the-types-wrong
 * (`--profile esm-only`: the package is ESM only, so CommonJS and node10 resolution are not
 * checked). Both read the tarball alone, with no network. Packs a copy of the repo, so the repo's
 * own dist/ is left alone.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown>; bin: Record<string, string> }
const work = mkdtempSync(join(tmpdir(), 'wb-package-'))
const app = join(work, 'app')
const subpaths = Object.keys(pkg.exports).map((p) => (p === '.' ? pkg.name : `${pkg.name}/${p.slice(2)}`))
const bin = (name: string): string => join(ROOT, 'node_modules', '.bin', name)

function node(script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8', timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('the packed package, installed into a scratch project', () => {
  let files: string[] = []
  let tarball = ''

  before(() => {
    const copy = join(work, 'repo')
    for (const entry of ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bin', 'scripts']) {
      cpSync(join(ROOT, entry), join(copy, entry), { recursive: true })
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
    const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: copy, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    const report = JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>
    files = report[0]?.files.map((f) => f.path) ?? []
    tarball = join(work, report[0]?.filename ?? 'missing.tgz')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', type: 'module', private: true }))
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app, stdio: 'pipe' })
  })
  after(() => rmSync(work, { recursive: true, force: true }))

  it('ships the built files, the bin, README and LICENSE, and no tests, sources or sourcemaps', () => {
    assert.ok(files.includes('LICENSE'))
    assert.ok(files.includes('README.md'))
    assert.ok(files.includes('dist/index.js'))
    assert.ok(files.includes('dist/index.d.ts'))
    assert.ok(files.includes(pkg.bin.writebehind?.replace(/^\.\//, '') ?? 'bin'))
    const strays = files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.endsWith('.map') || f.endsWith('.test.js'))
    assert.deepEqual(strays, [])
  })

  it('has none of the optional peers installed: the scratch project is what a user starts from', () => {
    const installed = readdirSync(join(app, 'node_modules'))
    for (const peer of ['fast-check', 'pg', 'mysql2', 'better-sqlite3', 'prom-client', '@opentelemetry', 'ioredis', 'redis']) assert.equal(installed.includes(peer), false, peer)
  })

  it('imports every subpath of exports from the built files, without the drivers or fast-check', () => {
    assert.deepEqual([...subpaths].sort(), [
      'writebehind',
      'writebehind/dashboard',
      'writebehind/mysql',
      'writebehind/otel',
      'writebehind/postgres',
      'writebehind/prometheus',
      'writebehind/redis',
      'writebehind/sqlite',
      'writebehind/testing',
    ])
    const expected: Record<string, string[]> = {
      writebehind: ['WriteBehindCache', 'MemoryStore', 'StoreError', 'CacheClosedError', 'WriteSupersededError'],
      'writebehind/sqlite': ['SqliteStore'],
      'writebehind/postgres': ['PostgresStore'],
      'writebehind/mysql': ['MySqlStore'],
      'writebehind/prometheus': ['registerPrometheus', 'INSTRUMENTS'],
      'writebehind/otel': ['registerOpenTelemetry', 'INSTRUMENTS'],
      'writebehind/redis': ['RedisTier', 'REDIS_TIER_DEFAULTS', 'ReplicationNotConfirmedError'],
      'writebehind/testing': ['FakeClock', 'describeStoreConformance', 'seededRandom'],
      'writebehind/dashboard': ['mountDashboard'],
    }
    for (const subpath of subpaths) {
      const result = node(`const m = await import(${JSON.stringify(subpath)}); console.log(JSON.stringify(Object.keys(m)))`)
      assert.equal(result.status, 0, `${subpath}: ${result.stderr}`)
      const names = JSON.parse(result.stdout) as string[]
      for (const name of expected[subpath] ?? []) assert.ok(names.includes(name), `${subpath} exports ${name}`)
    }
  })

  it('opens a cache, writes, flushes and closes end to end from the tarball, on a FakeClock from writebehind/testing', () => {
    const result = node(`
      import { WriteBehindCache, MemoryStore } from 'writebehind'
      import { FakeClock } from 'writebehind/testing'
      const store = new MemoryStore()
      const clock = new FakeClock()
      const cache = await WriteBehindCache.open({ store, clock, warn: () => {} })
      await cache.set('player:1', { score: 7 })
      await cache.delete('player:2')
      const flushing = cache.flush()
      for (let i = 0; i < 20; i++) await clock.advance(100)
      const report = await flushing
      const closed = await cache.close()
      console.log(JSON.stringify({ stored: [...store.snapshot()], deadLettered: report.deadLettered.length, drained: closed.drained }))
    `)
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { stored: [['player:1', { score: 7 }]], deadLettered: 0, drained: true })
  })

  it('without prom-client or @opentelemetry/api, the adapters import, refuse at call time with E_PEER_MISSING naming the package, and OpenTelemetry works with a meterProvider given', () => {
    const result = node(`
      import { WriteBehindCache, MemoryStore } from 'writebehind'
      import { registerPrometheus } from 'writebehind/prometheus'
      import { registerOpenTelemetry } from 'writebehind/otel'
      const cache = await WriteBehindCache.open({ store: new MemoryStore(), warn: () => {} })
      const refused = []
      for (const register of [() => registerPrometheus(cache), () => registerOpenTelemetry(cache)]) {
        try { register(); refused.push('registered') } catch (error) { refused.push([error.code, error.peer]) }
      }
      const handle = registerOpenTelemetry(cache, { meterProvider: { getMeter: () => noopMeter() } })
      await cache.set('k', 1)
      handle.unregister()
      await cache.close()
      console.log(JSON.stringify(refused))
      function noopMeter() {
        const instrument = { add() {}, record() {} }
        // Every OpenTelemetry SDK needs @opentelemetry/api, so a provider without it is hand-written.
        return { createHistogram: () => instrument, createObservableCounter: () => ({}), createObservableGauge: () => ({}), addBatchObservableCallback() {}, removeBatchObservableCallback() {} }
      }
    `)
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), [
      ['E_PEER_MISSING', 'prom-client'],
      ['E_PEER_MISSING', '@opentelemetry/api'],
    ])
  })

  it('installs a working writebehind bin', () => {
    const bin = join(app, 'node_modules', '.bin', 'writebehind')
    const result = spawnSync(bin, ['--help'], { cwd: app, encoding: 'utf8', timeout: 60_000 })
    assert.equal(result.status, 0, result.stderr)
    assert.match(result.stdout, /writebehind/)
    assert.match(result.stdout, /inspect/)
  })

  it('serves the dashboard from the installed bin, its page and the bundled uPlot (no uplot package installed)', async () => {
    assert.ok(files.includes('dist/cli/dashboard/assets/vendor/uPlot.iife.min.js'))
    assert.ok(files.includes('dist/cli/dashboard/assets/vendor/uPlot.LICENSE'))
    assert.equal(existsSync(join(app, 'node_modules', 'uplot')), false)
    const child = spawn(join(app, 'node_modules', '.bin', 'writebehind'), ['dashboard'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = ''
        child.stdout.setEncoding('utf8').on('data', (text: string) => {
          out += text
          const found = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})/.exec(out)?.[1]
          if (found !== undefined) resolve(found)
        })
        child.once('exit', (code) => reject(new Error(`the dashboard exited (${code}): ${out}`)))
      })
      const page = await fetch(url)
      assert.equal(page.status, 200)
      assert.match(await page.text(), /uPlot\.iife\.min\.js/)
      const uplot = await fetch(new URL('/assets/uPlot.iife.min.js', url))
      assert.equal(uplot.status, 200)
      assert.match(await uplot.text(), /^\/\*! https:\/\/github\.com\/leeoniya\/uPlot/)
      assert.equal((await fetch(new URL('/', url))).status, 403)
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGINT')
      await exited
    }
  })

  it('passes publint --strict: every warning is a failure', () => {
    const result = spawnSync(bin('publint'), ['--strict', tarball], { cwd: work, encoding: 'utf8', timeout: 60_000 })
    assert.equal(result.status, 0, `publint found problems in the tarball:\n${result.stdout}${result.stderr}`)
  })

  it('passes are-the-types-wrong for an ESM-only package: every subpath types and resolves under node16 and bundler', () => {
    const result = spawnSync(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color'], { cwd: work, encoding: 'utf8', timeout: 60_000 })
    assert.equal(result.status, 0, `attw found problems in the tarball:\n${result.stdout}${result.stderr}`)
    for (const subpath of subpaths) assert.ok(result.stdout.includes(`"${subpath}"`), `attw checked ${subpath}`)
  })
})
