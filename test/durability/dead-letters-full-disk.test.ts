// A dead-letter append that fails half-way (EFBIG under `ulimit -f`, standing in for a full
// disk) rejects, is cut back, and leaves the file readable: later appends land cleanly and a
// reopen sees exactly the letters whose add resolved.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DeadLetterQueue } from '../../src/dead-letters/queue.js'

const child = fileURLToPath(new URL('../helpers/dlq-full-disk-child.ts', import.meta.url))

describe('dead-letter queue when an append fails', () => {
  it('rejects the failed add, cuts the half-written line off, and goes on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wb-dlq-full-'))
    try {
      // 16 KiB file size limit; node ignores SIGXFSZ, so the write fails with EFBIG instead.
      const result = spawnSync('bash', ['-c', 'ulimit -f 16; exec "$0" "$@"', process.execPath, '--import', 'tsx', child, dir], { encoding: 'utf8' })
      assert.equal(result.status, 0, result.stderr)
      const report = JSON.parse(result.stdout) as { bigError?: string; keys: string[] }
      assert.equal(report.bigError, 'EFBIG')
      assert.deepEqual(report.keys, ['before', 'after'])
      const queue = await DeadLetterQueue.open(dir)
      assert.deepEqual(
        queue.list().map((l) => l.key),
        ['before', 'after'],
      )
      assert.equal(queue.tornBytes, 0, 'no half line was left behind')
      await queue.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
