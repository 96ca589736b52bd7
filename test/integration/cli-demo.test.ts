/**
 * The leaderboard demo (`writebehind demo`, `npm run demo`) run in-process on real SQLite files,
 * its end-of-run database check, and the real `writebehind` binary's dispatch and exit codes.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { run } from '../../src/cli/commands/demo.js'
import { checkDatabase } from '../../src/cli/demo-check.js'
import type { DemoReport } from '../../src/cli/demo-report.js'
import { Leaderboard } from '../../src/cli/demo-workload.js'
import { parseArgs, UsageError } from '../../src/cli/args.js'
import { LatencyHistogram } from '../../src/cli/latency.js'
import { ZipfSampler } from '../../src/cli/zipf.js'
import { ProgressLine, progressBar } from '../../src/cli/progress.js'
import { FakeClock } from '../../src/testing/fake-clock.js'
import { capture } from '../helpers/capture.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin', 'writebehind.js')

async function withTemp(use: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'wb-cli-demo-'))
  try {
    await use(root)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

function countRows(path: string): number {
  const db = new Database(path, { readonly: true })
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM writebehind_entries WHERE deleted = 0').get() as { n: number }).n
  } finally {
    db.close()
  }
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('writebehind demo', () => {
  it('runs the workload, drains at close and finds the database equal to the last writes', async () => {
    await withTemp(async (root) => {
      const db = join(root, 'demo.db')
      const dir = join(root, 'log')
      const out = capture()
      const code = await run(['--duration', '2', '--players', '1000', '--db', db, '--dir', dir, '--json'], out)
      const report = JSON.parse(out.text()) as DemoReport
      assert.equal(code, 0, out.text())
      assert.equal(report.check.ok, true, report.check.mismatches.join('\n'))
      assert.equal(report.ok, true)
      assert.ok(report.writes > 0, 'some writes were acknowledged')
      assert.ok(report.rowsWritten > 0 && report.rowsWritten <= report.writes, `rows ${report.rowsWritten} vs writes ${report.writes}`)
      assert.ok(report.players > 0 && report.players <= 1000)
      assert.equal(report.check.players, report.players)
      assert.equal(report.close.drained, true)
      assert.ok(report.latencyMs.p50 <= report.latencyMs.p99 && report.latencyMs.p99 <= report.latencyMs.max)
      assert.ok(report.batches > 0 && report.statements >= report.batches)
      assert.equal(countRows(db), report.players, 'one row per distinct player written')
    })
  })

  it('recreates the database and cleans the log dir on each run, and runs without a dir at durability memory', async () => {
    await withTemp(async (root) => {
      const db = join(root, 'demo.db')
      const dir = join(root, 'log')
      const first = capture()
      assert.equal(await run(['--duration', '0.3', '--players', '50', '--db', db, '--dir', dir], first), 0, first.text())
      assert.match(first.text(), /check: OK \(\d+ players match\)/)
      assert.ok(!first.text().includes('\r') && !first.text().includes('\u001b'), 'plain output when not a terminal')

      const second = capture()
      assert.equal(await run(['--duration', '0.3', '--players', '50', '--db', db, '--durability', 'memory', '--json'], second), 0, second.text())
      const report = JSON.parse(second.text()) as DemoReport
      assert.equal(report.settings.dir, undefined)
      assert.ok(
        report.warnings.some((w) => w.startsWith('WB_NO_LOG')),
        'the no-log warning is reported',
      )
      assert.equal(countRows(db), report.players, 'the second run starts from an empty database')
    })
  })

  it('states what the durability level means for a crash, what one would have lost, and what the coalescing figure counts', async () => {
    await withTemp(async (root) => {
      const memory = capture()
      assert.equal(await run(['--duration', '2.3', '--players', '50', '--db', join(root, 'm.db'), '--durability', 'memory', '--interval', '60000'], memory), 0, memory.text())
      const text = memory.text()
      assert.match(text, /^durability memory: .*a crash \(process or machine\) loses every acknowledged write not yet in the DB/m)
      assert.match(text, /writes\/row = writes acknowledged per row written so far \(coalescing\)/)
      // The live line (every 2 s when not a terminal): the backlog in keys, writes per row, what a crash now would lose.
      assert.match(text, /backlog [\d,]+ keys \(oldest .*\) +(-|[\d.]+) writes\/row +crash now: loses the latest writes of [\d,]+ keys/)
      assert.match(text, /^crash as writes ended would have lost the latest writes of [\d,]+ keys \([\d,]+ keys were not yet in the DB\)$/m)
      assert.match(text, /^coalescing ratio +[\d.]+ writes acknowledged per row written$/m)

      const disk = capture()
      assert.equal(await run(['--duration', '0.2', '--players', '50', '--db', join(root, 'd.db'), '--dir', join(root, 'log'), '--durability', 'disk', '--json'], disk), 0, disk.text())
      const report = JSON.parse(disk.text()) as DemoReport
      assert.match(report.durabilityMeaning, /fsynced; a crash, even a power loss, loses no acknowledged write/)
      assert.equal(report.crashAtEnd, 'would have lost nothing acknowledged')
    })
  })

  it('passes the check on a zero-length run (no write, no table)', async () => {
    await withTemp(async (root) => {
      const out = capture()
      assert.equal(await run(['--duration', '0', '--db', join(root, 'd.db'), '--dir', join(root, 'log'), '--json'], out), 0, out.text())
      const report = JSON.parse(out.text()) as DemoReport
      assert.deepEqual([report.writes, report.rowsWritten, report.check.ok, report.check.rows], [0, 0, true, 0])
    })
  })

  it("refuses to clean a --dir that holds files that are not writebehind's", async () => {
    await withTemp(async (root) => {
      const dir = join(root, 'precious')
      await mkdir(dir)
      await writeFile(join(dir, 'thesis.tex'), 'do not delete')
      const out = capture()
      assert.equal(await run(['--duration', '0', '--db', join(root, 'd.db'), '--dir', dir], out), 64)
      assert.match(out.text(), /^error: refusing to clean/)
      assert.deepEqual(await readdir(dir), ['thesis.tex'])
    })
  })

  it('rejects bad options with exit 64 and the usage', async () => {
    for (const args of [['--players', 'many'], ['--writers', '0'], ['--durability', 'paper'], ['--zipf'], ['--nope'], ['extra']]) {
      const out = capture()
      assert.equal(await run(args, out), 64, args.join(' '))
      assert.match(out.text(), /^error: /)
      assert.match(out.text(), /Usage: writebehind demo/)
    }
    const help = capture()
    assert.equal(await run(['--help'], help), 0)
    for (const option of ['--duration', '--players', '--writers', '--zipf', '--db', '--dir', '--durability', '--interval', '--batch', '--json']) {
      assert.ok(help.text().includes(option), `help lists ${option}`)
    }
  })
})

describe('demo database check', () => {
  it('reports missing, stale, deleted and extra rows', async () => {
    await withTemp(async (root) => {
      const path = join(root, 'check.db')
      const db = new Database(path)
      db.exec('CREATE TABLE writebehind_entries (key TEXT PRIMARY KEY, value TEXT, version INTEGER, deleted INTEGER)')
      const insert = db.prepare('INSERT INTO writebehind_entries VALUES (?, ?, 1, ?)')
      const board = new Leaderboard(10)
      for (const id of [0, 1, 2, 3]) {
        board.scores[id] = id + 5
        board.updatedAt[id] = 1000 + id
      }
      insert.run('player:0', JSON.stringify({ score: 5, updatedAt: 1000 }), 0) // matches
      insert.run('player:1', JSON.stringify({ score: 5, updatedAt: 1001 }), 0) // stale score (expected 6)
      insert.run('player:2', JSON.stringify({ score: 7, updatedAt: 1002 }), 1) // tombstone
      insert.run('player:9', JSON.stringify({ score: 1, updatedAt: 1 }), 0) // never written by the demo
      db.close() // player:3 is missing

      const result = await checkDatabase(path, 'writebehind_entries', board)
      assert.equal(result.ok, false)
      assert.equal(result.players, 4)
      assert.equal(result.rows, 4)
      assert.equal(result.matched, 1)
      assert.equal(result.mismatchCount, 4)
      const text = result.mismatches.join('\n')
      assert.match(text, /player:1: database has score 5 .* expected 6/)
      assert.match(text, /player:2: deleted/)
      assert.match(text, /player:9: unexpected row/)
      assert.match(text, /player:3: missing/)
    })
  })
})

describe('demo building blocks', () => {
  it('Zipf sampler: seeded, in range, skewed as 1/(k+1)^s', () => {
    const draw = (seed: number): number[] => {
      const sampler = new ZipfSampler(1000, 1.1, seed)
      return Array.from({ length: 50 }, () => sampler.next())
    }
    assert.deepEqual(draw(7), draw(7), 'same seed, same sequence')
    assert.notDeepEqual(draw(7), draw(8))

    const n = 1000
    const sampler = new ZipfSampler(n, 1.1, 42)
    const counts = new Array<number>(n).fill(0)
    const samples = 200_000
    for (let i = 0; i < samples; i++) {
      const rank = sampler.next()
      assert.ok(Number.isInteger(rank) && rank >= 0 && rank < n)
      counts[rank]!++
    }
    let harmonic = 0
    for (let k = 1; k <= n; k++) harmonic += 1 / Math.pow(k, 1.1)
    for (const rank of [0, 1, 9]) {
      const expected = samples / Math.pow(rank + 1, 1.1) / harmonic
      assert.ok(Math.abs(counts[rank]! - expected) < expected * 0.05, `rank ${rank}: ${counts[rank]} draws, expected about ${expected.toFixed(0)}`)
    }

    const uniform = new ZipfSampler(10, 0, 1)
    const seen = new Array<number>(10).fill(0)
    for (let i = 0; i < 50_000; i++) seen[uniform.next()]!++
    for (const c of seen) assert.ok(c > 4500 && c < 5500, `exponent 0 is uniform: ${seen.join(',')}`)
    assert.throws(() => new ZipfSampler(0, 1, 1), TypeError)
    assert.throws(() => new ZipfSampler(10, -1, 1), TypeError)
  })

  it('latency histogram: percentiles within 2 %, exact max, 0 when empty', () => {
    const h = new LatencyHistogram()
    assert.equal(h.percentile(99), 0)
    for (let ms = 1; ms <= 1000; ms++) h.record(ms)
    h.record(0.004)
    const near = (actual: number, expected: number): void => assert.ok(Math.abs(actual - expected) <= expected * 0.02, `${actual} vs ${expected}`)
    near(h.percentile(50), 500)
    near(h.percentile(99), 990)
    assert.equal(h.max, 1000)
    assert.equal(h.percentile(100), 1000)
    assert.equal(h.count, 1001)
    assert.equal(h.percentile(0), 0.004, 'microsecond values are kept exactly')
  })

  it('progress line: rewritten in place on a terminal (cut to its width), plain lines elsewhere', async () => {
    const clock = new FakeClock()
    let n = 0
    const tty = Object.assign(capture(), { isTTY: true, columns: 12 })
    const live = new ProgressLine(tty, () => `tick ${++n} and some more text`, { clock })
    live.start()
    await clock.advance(1600)
    live.stop()
    await clock.advance(5000)
    assert.equal(tty.text(), '\rtick 1 and \u001b[K\rtick 2 and \u001b[K\rtick 3 and \u001b[K\n', 'every 500 ms, cut to 11 columns')

    n = 0
    const pipe = capture()
    const plain = new ProgressLine(pipe, () => `tick ${++n}`, { clock })
    plain.start()
    await clock.advance(4500)
    plain.stop()
    await clock.advance(5000)
    assert.equal(pipe.text(), 'tick 1\ntick 2\n', 'every 2 s, no control characters')
    assert.equal(progressBar(5, 10, 10), '[#####.....]  50%')
    assert.equal(progressBar(0, 0, 4), '[####] 100%')
  })

  it('argument parser: --name value, --name=value, flags, positionals, and clear errors', () => {
    const specs = {
      n: { type: 'number', help: '', default: 3, min: 1, integer: true },
      s: { type: 'string', help: '', choices: ['a', 'b'] },
      f: { type: 'flag', help: '' },
    } as const
    assert.deepEqual(parseArgs(['x', '--n', '5', '--s=b', '--f', '--', '--n'], specs), { options: { n: 5, s: 'b', f: true }, positionals: ['x', '--n'] })
    assert.deepEqual(parseArgs([], specs).options, { n: 3, s: undefined, f: false })
    const fails = (args: string[], message: RegExp): void =>
      assert.throws(
        () => parseArgs(args, specs),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
      )
    fails(['--n'], /--n needs a value/)
    fails(['--n', '--f'], /--n needs a value/)
    fails(['--n', '1.5'], /--n must be a whole number >= 1/)
    fails(['--n', '0'], /--n must be a whole number >= 1/)
    fails(['--n', ''], /--n must be a whole number/)
    fails(['--s', 'c'], /--s must be one of a, b/)
    fails(['--f=1'], /--f takes no value/)
    fails(['--what'], /unknown option --what/)
  })
})

describe('writebehind binary', () => {
  it('prints the usage with every command on help and with no arguments (exit 0)', () => {
    for (const args of [['help'], []]) {
      const { status, stdout } = cli(...args)
      assert.equal(status, 0)
      for (const command of ['demo', 'inspect', 'verify', 'recover', 'dlq', 'help', '--version']) {
        assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'), `usage lists ${command}`)
      }
      assert.match(stdout, /--durability/)
    }
  })

  it('exits 64 on an unknown command, after saying so', () => {
    const { status, stdout } = cli('nonsense')
    assert.equal(status, 64)
    assert.match(stdout, /unknown command "nonsense"/)
    assert.match(stdout, /Usage: writebehind <command>/)
  })

  it('runs a short demo as a real process that exits 0 on its own', async () => {
    await withTemp(async (root) => {
      const { status, stdout, stderr } = cli('demo', '--duration', '1', '--players', '200', '--db', join(root, 'd.db'), '--dir', join(root, 'log'))
      assert.equal(status, 0, stdout + stderr)
      assert.match(stdout, /writes acknowledged +[\d,]+ in/)
      assert.match(stdout, /drain at close .*: drained/)
      assert.match(stdout, /check: OK \(\d+ players match\)/)
    })
  })

  it("prints the package version and passes a command's exit code through", () => {
    const version = cli('--version')
    assert.equal(version.status, 0)
    assert.equal(version.stdout.trim(), '0.1.0')
    const bad = cli('demo', '--players', 'lots')
    assert.equal(bad.status, 64)
    assert.match(bad.stdout, /--players must be a whole number/)
  })
})
