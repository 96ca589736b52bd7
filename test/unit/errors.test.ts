/**
 * Every error writebehind throws on purpose carries a code: `ErrorCode` lists them, `errors` maps
 * each to its class, and the README's error table lists every class with its codes.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as exported from '../../src/index.js'
import {
  BacklogFullError,
  CacheClosedError,
  DeadLetteredError,
  DirectoryLockedError,
  errors,
  FlushTimeoutError,
  InvalidDirectoryError,
  InvalidKeyError,
  InvalidOptionError,
  InvalidValueError,
  LogCorruptionError,
  LogFailedError,
  LogFormatError,
  MetricsRegistrationError,
  NotANumberError,
  PeerMissingError,
  StoreError,
  StoreUnavailableError,
  UnencodableValueError,
  UpdateConflictError,
  VersionExhaustedError,
  ReplicationNotConfirmedError,
  RedisConfigError,
  RedisUnavailableError,
  RedisClusterError,
  WriteBehindError,
  WriteSupersededError,
  WriteLostError,
  type ErrorCode,
} from '../../src/errors.js'
import { strictJson } from '../../src/core/json-codec.js'
import { checkNumber } from '../../src/validate/check.js'

const README = readFileSync(join(fileURLToPath(new URL('../..', import.meta.url)), 'README.md'), 'utf8')

/** One error of each code, as the package makes it. Typed by `ErrorCode`: a code missing here fails the typecheck. */
const samples: Record<ErrorCode, () => Error & { code: string }> = {
  E_INVALID_OPTION: () => caught(() => checkNumber(0, 'flush.batchSize', { min: 1 })),
  E_INVALID_KEY: () => new InvalidKeyError('', 'the key is empty'),
  E_INVALID_VALUE: () => new InvalidValueError('k', 'bad'),
  E_UNENCODABLE_VALUE: () => caught(() => strictJson.encode({ a: [1, undefined] })),
  E_BACKLOG_FULL: () => new BacklogFullError(1, 2),
  E_VERSION_EXHAUSTED: () => new VersionExhaustedError(Number.MAX_SAFE_INTEGER),
  E_STORE_UNAVAILABLE: () => new StoreUnavailableError('down'),
  E_STORE: () => new StoreError('refused', { retryable: false }),
  E_BATCH_TIMEOUT: () => new StoreError('slow', { retryable: true, code: 'E_BATCH_TIMEOUT' }),
  E_STORE_MAPPING: () => new StoreError('unmappable', { retryable: false, code: 'E_STORE_MAPPING' }),
  E_STORE_NOT_A_NUMBER: () => new StoreError('not a number', { retryable: false, code: 'E_STORE_NOT_A_NUMBER' }),
  E_DEAD_LETTERED: () => new DeadLetteredError('k', 1, new Error('x')),
  E_SUPERSEDED: () => new WriteSupersededError('k', 1, 2),
  E_FLUSH_TIMEOUT: () => new FlushTimeoutError('timeout', 3),
  E_FLUSH_ABORTED: () => new FlushTimeoutError('abort', 3),
  E_CLOSED: () => new CacheClosedError('set'),
  E_DIR_LOCKED: () => new DirectoryLockedError('/d', 1),
  E_DIR_INVALID: () => new InvalidDirectoryError('/d', 'unsafe', 'unsafe dir'),
  E_LOG_CORRUPT: () => new LogCorruptionError('000001.log', 0, 'bad checksum'),
  E_LOG_FORMAT: () => new LogFormatError('CHECKPOINT', 'unknown version'),
  E_LOG_FAILED: () => new LogFailedError(new Error('EIO')),
  E_UPDATE_CONFLICT: () => new UpdateConflictError('k', 10),
  E_NOT_A_NUMBER: () => new NotANumberError('k', 'sum', 'a string'),
  E_PEER_MISSING: () => new PeerMissingError('prom-client', 'registerPrometheus'),
  E_METRICS_DUPLICATE: () => new MetricsRegistrationError('E_METRICS_DUPLICATE', 'orders'),
  E_METRICS_CONFLICT: () => new MetricsRegistrationError('E_METRICS_CONFLICT', 'orders', 'writebehind_writes_total'),
  E_REPLICATION_NOT_CONFIRMED: () => new ReplicationNotConfirmedError('k', 1, 0, 1),
  E_REDIS_CONFIG: () => new RedisConfigError('maxmemory-policy', 'allkeys-lru'),
  E_REDIS_UNAVAILABLE: () => new RedisUnavailableError('k', { cause: new Error('Connection is closed.') }),
  E_REDIS_CLUSTER: () => new RedisClusterError('CLUSTERDOWN', new Error('CLUSTERDOWN The cluster is down')),
  E_WRITE_LOST: () => new WriteLostError('k', 2),
}

function caught(fn: () => unknown): Error & { code: string } {
  try {
    fn()
  } catch (error) {
    return error as Error & { code: string }
  }
  throw new Error('expected a throw')
}

/** The README's error table: class name → the codes its row lists. */
function readmeTable(): Map<string, string[]> {
  const rows = README.split('\n').filter((line) => /^\| `\w+Error`/.test(line))
  return new Map(
    rows.map((line) => {
      const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim())
      return [(cells[1] ?? '').replace(/`/g, '').split(' ')[0] as string, [...(cells[2] ?? '').matchAll(/`(E_[A-Z_]+)`/g)].map((m) => m[1] as string)]
    }),
  )
}

describe('error codes', () => {
  it('every code of the errors map is in the union, and an error of it is an instance of its class with that code', () => {
    assert.deepEqual(Object.keys(errors).sort(), Object.keys(samples).sort())
    for (const [code, make] of Object.entries(samples)) {
      const error = make()
      assert.equal(error.code, code)
      assert.ok(error instanceof errors[code as ErrorCode], `${code} is a ${errors[code as ErrorCode].name}`)
      if (code === 'E_INVALID_OPTION') {
        assert.ok(error instanceof TypeError && !(error instanceof WriteBehindError), 'a TypeError, not a WriteBehindError')
        assert.equal(error.name, 'TypeError')
      } else {
        assert.ok(error instanceof WriteBehindError, `${code} is a WriteBehindError`)
        assert.equal(error.name, errors[code as ErrorCode].name)
      }
    }
  })

  it('every error class the package exports is in the errors map (but the base class)', () => {
    const classes = new Set<unknown>([...Object.values(errors), WriteBehindError])
    const exportedClasses = Object.entries(exported).filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
    assert.deepEqual(
      exportedClasses.filter(([, value]) => !classes.has(value)).map(([name]) => name),
      [],
    )
  })

  it("the README's error table lists every class of the map with each of its codes, and no other code", () => {
    const table = readmeTable()
    for (const [code, cls] of Object.entries(errors)) {
      assert.ok(table.get(cls.name)?.includes(code), `the README lists ${cls.name} with ${code}`)
    }
    const listed = [...table.values()].flat()
    assert.deepEqual(
      listed.filter((code) => !(code in errors)),
      [],
    )
  })

  it('a bad option is an InvalidOptionError naming it, in the one message style', () => {
    const error = caught(() => checkNumber(0, 'flush.batchSize', { min: 1, integer: true }))
    assert.ok(error instanceof InvalidOptionError)
    assert.equal(error.option, 'flush.batchSize')
    assert.equal(error.message, 'flush.batchSize must be a whole number >= 1, got 0')
  })

  it('the codec error is coded and says where: UnencodableValueError with a path', () => {
    const error = caught(() => strictJson.encode({ a: [1, undefined] }))
    assert.ok(error instanceof UnencodableValueError)
    assert.equal(error.path, '$.a[1]')
    assert.match(error.message, /undefined cannot be stored .* at \$\.a\[1\]$/)
  })
})
