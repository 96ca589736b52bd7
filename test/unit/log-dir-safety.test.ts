/**
 * What is planted in, or wrong with, a log directory: symlinks at temp-file names are never
 * followed; a dir others may write to is refused, one writable by its group or owned by another
 * user warns; a dir that is a file, under a file, or not writable gives InvalidDirectoryError.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { rewriteLog } from '../../src/dead-letters/file.js'
import { InvalidDirectoryError } from '../../src/errors.js'
import { DirtyLog } from '../../src/log/dirty-log.js'
import { directoryError } from '../../src/log/log-dir.js'
import { chattrWorks, tempDir } from './log-helpers.js'

/** A file outside the log dir that a planted symlink points at, with content that must survive. */
function victim(): string {
  const path = join(tempDir('victim'), 'precious.txt')
  writeFileSync(path, 'do not overwrite\n')
  return path
}

function quiet() {
  const warnings: Array<{ code: string; message: string }> = []
  return { warnings, warn: (code: string, message: string) => warnings.push({ code, message }) }
}

describe('planted symlinks at temp-file names', () => {
  it('CHECKPOINT.tmp: the checkpoint is written, the symlink target is untouched', async () => {
    const dir = tempDir('plant-cp')
    const target = victim()
    const { log } = await DirtyLog.open({ dir })
    symlinkSync(target, join(dir, 'CHECKPOINT.tmp'))
    log.append({ kind: 'set', key: 'k', version: 1, encoded: '1' })
    await log.checkpoint(1, 1)
    await log.close()
    assert.equal(readFileSync(target, 'utf8'), 'do not overwrite\n')
    assert.equal(existsSync(join(dir, 'CHECKPOINT.tmp')), false)
    assert.equal(lstatSync(join(dir, 'CHECKPOINT')).isFile(), true)
  })

  it('LOCK.<pid>.tmp: the lock is taken, the symlink target is untouched', async () => {
    const dir = tempDir('plant-lock')
    const target = victim()
    symlinkSync(target, join(dir, `LOCK.${process.pid}.tmp`))
    const { log } = await DirtyLog.open({ dir })
    assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid))
    await log.close()
    assert.equal(readFileSync(target, 'utf8'), 'do not overwrite\n')
  })

  it('dead-letters.log.tmp: the rewrite happens, the symlink target is untouched', async () => {
    const dir = tempDir('plant-dlq')
    const target = victim()
    symlinkSync(target, join(dir, 'dead-letters.log.tmp'))
    await rewriteLog(dir, [])
    assert.equal(readFileSync(target, 'utf8'), 'do not overwrite\n')
    assert.equal(readFileSync(join(dir, 'dead-letters.log'), 'utf8'), '')
  })
})

describe('who may write to the dir', () => {
  it('writable by others (0777, even sticky) → InvalidDirectoryError unsafe, with the chmod to run', async () => {
    for (const mode of [0o777, 0o1777]) {
      const dir = tempDir('unsafe')
      chmodSync(dir, mode)
      await assert.rejects(DirtyLog.open({ dir, warn: quiet().warn }), (error: unknown) => {
        assert.ok(error instanceof InvalidDirectoryError, String(error))
        assert.equal(error.code, 'E_DIR_INVALID')
        assert.equal(error.reason, 'unsafe')
        assert.match(error.message, /chmod o-w/)
        return true
      })
      assert.equal(existsSync(join(dir, 'LOCK')), false, 'refused before anything is written')
    }
  })

  it('writable by its group → opens with warning WB_DIR_GROUP_WRITABLE', async () => {
    const dir = tempDir('group')
    chmodSync(dir, 0o770)
    const { warnings, warn } = quiet()
    const { log } = await DirtyLog.open({ dir, warn })
    await log.close()
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['WB_DIR_GROUP_WRITABLE'],
    )
  })

  it('owned by another user → opens with warning WB_DIR_FOREIGN_OWNER', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const dir = tempDir('foreign')
    chownSync(dir, 65534, 65534) // nobody
    const { warnings, warn } = quiet()
    const { log } = await DirtyLog.open({ dir, warn })
    await log.close()
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['WB_DIR_FOREIGN_OWNER'],
    )
    assert.match(warnings[0]!.message, /uid 65534/)
  })

  it('a private dir (0700, ours) opens without a warning', async () => {
    const { warnings, warn } = quiet()
    const { log } = await DirtyLog.open({ dir: tempDir('private'), warn })
    await log.close()
    assert.deepEqual(warnings, [])
  })
})

describe('a dir that cannot hold a log', () => {
  function rejectsWith(reason: string, pattern: RegExp) {
    return (error: unknown) => {
      assert.ok(error instanceof InvalidDirectoryError, String(error))
      assert.equal(error.code, 'E_DIR_INVALID')
      assert.equal(error.reason, reason)
      assert.match(error.message, pattern)
      return true
    }
  }

  it('a file → not-a-directory, saying to point dir at a directory', async () => {
    const file = join(tempDir('file'), 'a-file')
    writeFileSync(file, 'x')
    await assert.rejects(DirtyLog.open({ dir: file }), rejectsWith('not-a-directory', /Point `dir` at a directory/))
  })

  it('under a file → not-a-directory', async () => {
    const file = join(tempDir('under'), 'a-file')
    writeFileSync(file, 'x')
    await assert.rejects(DirtyLog.open({ dir: join(file, 'log') }), rejectsWith('not-a-directory', /is a file \(ENOTDIR\)/))
  })

  it('an immutable dir (chattr +i: not writable even by root) → not-writable, saying how to fix it', { skip: chattrWorks() ? false : 'needs chattr +i' }, async () => {
    const dir = tempDir('immutable')
    execFileSync('chattr', ['+i', dir])
    try {
      await assert.rejects(DirtyLog.open({ dir }), rejectsWith('not-writable', /write access/))
    } finally {
      execFileSync('chattr', ['-i', dir])
    }
  })

  it('a parent that is not writable → not-writable (an immutable parent, so the dir cannot be created)', { skip: chattrWorks() ? false : 'needs chattr +i' }, async () => {
    const parent = tempDir('immutable-parent')
    execFileSync('chattr', ['+i', parent])
    try {
      await assert.rejects(DirtyLog.open({ dir: join(parent, 'log') }), rejectsWith('not-writable', /cannot create or write/))
    } finally {
      execFileSync('chattr', ['-i', parent])
    }
  })

  it('EACCES (what a non-root user gets) maps to not-writable; an unrelated errno is left alone', () => {
    const eacces = Object.assign(new Error('permission denied'), { code: 'EACCES' })
    assert.equal(directoryError('/x', eacces)?.reason, 'not-writable')
    assert.equal(directoryError('/x', eacces)?.cause, eacces)
    assert.equal(directoryError('/x', Object.assign(new Error('io'), { code: 'EIO' })), undefined)
  })
})
