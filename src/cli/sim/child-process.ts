/**
 * Forks the workload child (child.ts from the sources under tsx, child.js when built) with
 * structured-clone IPC, passes it its config, and exposes when it is ready, its messages, and its
 * end (`close`: after the last message it sent has been read, so no reported ack is missed).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildConfig, ChildMessage, ParentMessage } from './protocol.js'

const CHILD = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './child.ts' : './child.js', import.meta.url))
const STDERR_KEPT = 4000

export interface WorkloadChild {
  /** Resolves with the ready message (the log replayed); rejects when the child ends first. */
  readonly ready: Promise<Extract<ChildMessage, { type: 'ready' }>>
  /** Resolves when the child has exited and its last message was handled. */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  send(message: ParentMessage): void
  kill(): void
  /** The end of what it wrote to stderr, for error messages. */
  stderr(): string
}

export function forkChild(config: ChildConfig, onMessage: (message: ChildMessage) => void): WorkloadChild {
  const child: ChildProcess = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: childExecArgv() })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEPT)
  })
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })))
  const ready = new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') resolve(message)
      if (message.type === 'failed') reject(new Error(`the workload failed: ${message.message}`))
      onMessage(message)
    })
    void ended.then(() => reject(new Error(`the workload exited before it was ready${stderr === '' ? '' : `: ${stderr.trim()}`}`)))
  })
  ready.catch(() => {}) // a caller that never awaits it (a run killed while starting) is not an unhandled rejection
  child.send(config)
  return {
    ready,
    ended,
    send: (message) => {
      if (child.connected) child.send(message)
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
    stderr: () => stderr,
  }
}

/**
 * The loader the sources need: the parent's own loader flags (`tsx file.ts`, `node --import tsx`),
 * or tsx's when it was registered through its API (bin/writebehind.js in a checkout). None when built.
 */
function childExecArgv(): string[] {
  const kept = loaderArgs(process.execArgv)
  return CHILD.endsWith('.ts') && kept.length === 0 ? ['--import', import.meta.resolve('tsx')] : kept
}

/** Only the loader flags (tsx's `--import`/`--require`), not `--test` or inspector flags. */
function loaderArgs(execArgv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string
    if (/^--(import|require|loader|experimental-loader)=/.test(arg)) kept.push(arg)
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(arg) && i + 1 < execArgv.length) kept.push(arg, execArgv[++i] as string)
  }
  return kept
}
