/**
 * The Store conformance suite under the three runners it promises: node:test, Vitest and Jest
 * (native ESM, no transform). A copy of the repo is built, and test/runners/conformance.*.mjs run
 * there as child processes, each importing the built package by its name, as a third-party
 * store's tests do; their JSON reports are compared case by case. The stores (test/runners/stores.mjs):
 * SqliteStore, MemoryStore (with cases declared away, so skipped with a reason), and a SqliteStore
 * whose version fence is dropped (test/helpers/fenceless-store.mjs), which must fail everywhere.
 * Builds a copy, so the repo's own dist/ is left alone.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'wb-runners-'))
const repo = join(work, 'repo')
const bin = (name: string): string => join(ROOT, 'node_modules', '.bin', name)

type Status = 'passed' | 'failed' | 'skipped'
interface Case {
  readonly suite: string
  readonly title: string
  readonly status: Status
}
type Runner = 'node:test' | 'Vitest' | 'Jest'

const SQLITE = 'Store conformance: SqliteStore'
const MEMORY = 'Store conformance: MemoryStore'
const BROKEN = 'Store conformance: SqliteStore without its version fence (must fail)'

/** Runs `file` with `args` in the copy; resolves with its exit code and output whatever the code. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  // NODE_TEST_CONTEXT would make a child `node --test` talk to this runner instead of reporting.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env
  return new Promise((resolve) => {
    execFile(file, args, { cwd: repo, env: { ...inherited, ...env }, timeout: 120_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

/** A JSON report's case (Vitest's and Jest's share the shape): Jest says `pending` for skipped. */
function fromReport(path: string, output: string): Case[] {
  assert.ok(existsSync(path), `no report at ${path}; the runner said:\n${output.slice(-3000)}`)
  const report = JSON.parse(readFileSync(path, 'utf8')) as { testResults: { assertionResults: { ancestorTitles: string[]; title: string; status: string }[] }[] }
  return report.testResults.flatMap((file) =>
    file.assertionResults.map(({ ancestorTitles, title, status }) => ({
      suite: ancestorTitles.join(' > '),
      title,
      status: status === 'pending' ? 'skipped' : (status as Status),
    })),
  )
}

const byName = (a: Case, b: Case): number => (a.suite + a.title < b.suite + b.title ? -1 : 1)
const names = (cases: Case[], suite: string, status: Status): string[] =>
  cases
    .filter((c) => c.suite === suite && c.status === status)
    .map((c) => c.title)
    .sort()

describe('the Store conformance suite under node:test, Vitest and Jest', () => {
  const results = new Map<Runner, { code: number; cases: Case[]; output: string }>()

  before(async () => {
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'test/runners', 'test/helpers/fenceless-store.mjs']) {
      cpSync(join(ROOT, entry), join(repo, entry), { recursive: true })
    }
    symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'))
    const built = await run(bin('tsc'), ['-p', 'tsconfig.build.json'])
    assert.equal(built.code, 0, `the build failed: ${built.stdout}${built.stderr}`)
    mkdirSync(join(work, 'reports'))

    const node = await run(process.execPath, ['--test', '--test-reporter=./test/runners/node-reporter.mjs', 'test/runners/conformance.node.mjs'])
    const cases = node.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Case)
    results.set('node:test', { code: node.code, cases, output: node.stderr })

    const vitestReport = join(work, 'reports', 'vitest.json')
    const vitest = await run(bin('vitest'), ['run', '--config', 'test/runners/vitest.config.mjs', '--reporter=json', `--outputFile=${vitestReport}`])
    results.set('Vitest', { code: vitest.code, cases: fromReport(vitestReport, vitest.stdout + vitest.stderr), output: vitest.stdout + vitest.stderr })

    const jestReport = join(work, 'reports', 'jest.json')
    const jest = await run(bin('jest'), ['--ci', '--config', 'test/runners/jest.config.mjs', '--json', `--outputFile=${jestReport}`], {
      NODE_OPTIONS: '--experimental-vm-modules',
    })
    results.set('Jest', { code: jest.code, cases: fromReport(jestReport, jest.stderr), output: jest.stderr })
  })
  after(() => rmSync(work, { recursive: true, force: true }))

  const get = (runner: Runner): { code: number; cases: Case[]; output: string } => {
    const result = results.get(runner)
    assert.ok(result !== undefined, `${runner} ran`)
    return result
  }

  it('node:test passes every SqliteStore case, and every MemoryStore case it does not skip', () => {
    const { cases, output } = get('node:test')
    for (const suite of [SQLITE, MEMORY]) assert.deepEqual(names(cases, suite, 'failed'), [], suite)
    assert.ok(names(cases, SQLITE, 'passed').length >= 30, `SqliteStore passed ${names(cases, SQLITE, 'passed').length} cases\n${output.slice(-3000)}`)
    assert.ok(names(cases, MEMORY, 'passed').length >= 25, `MemoryStore passed ${names(cases, MEMORY, 'passed').length} cases`)
  })

  for (const runner of ['Vitest', 'Jest'] as const) {
    it(`${runner} reports every case as node:test does: the same names, each passed, skipped or failed alike`, () => {
      const expected = get('node:test').cases.slice().sort(byName)
      const { cases, output } = get(runner)
      assert.equal(cases.length, expected.length, `${runner} reported ${cases.length} cases, node:test ${expected.length}\n${output.slice(-3000)}`)
      assert.deepEqual(cases.slice().sort(byName), expected)
    })
  }

  for (const runner of ['node:test', 'Vitest', 'Jest'] as const) {
    it(`${runner}: a case the store does not claim is skipped, with its reason, not passed`, () => {
      const { cases } = get(runner)
      const skipped = names(cases, MEMORY, 'skipped')
      assert.ok(
        skipped.includes('ping(), where the store has one, answers while the store is up (skipped: the options say the store has no ping())'),
        `ping() skipped with its reason: ${skipped.join('\n')}`,
      )
      assert.equal(skipped.filter((title) => title.includes('(skipped: the options say writeBatch reports no superseded ops)')).length, 3)
      for (const title of skipped) assert.match(title, /\(skipped: .+\)$/)
      const passedAsSkipped = cases.filter((c) => c.status !== 'skipped' && c.title.includes('(skipped: '))
      assert.deepEqual(passedAsSkipped, [])
      assert.ok(names(cases, SQLITE, 'skipped').includes('data the store refuses fails with retryable false, and the store goes on taking writes (skipped: no poison op was given (options.poison))'))
    })

    it(`${runner}: the suite fails a store without its version fence, and the runner exits non-zero`, () => {
      const { code, cases } = get(runner)
      const failed = names(cases, BROKEN, 'failed')
      for (const title of [
        'an older version never overwrites a newer one (v2 then v1 keeps v2)',
        'a tombstone fences an older set (no resurrection)',
        'a replayed old batch after a newer one changes nothing',
      ]) {
        assert.ok(failed.includes(title), `"${title}" fails under ${runner}`)
      }
      assert.ok(names(cases, BROKEN, 'passed').includes('set then load returns the value and its version'), 'what does not need the fence still passes: the store itself works')
      assert.notEqual(code, 0)
    })
  }
})
