/**
 * Forks the workload child (child.ts from the sources under tsx, child.js when built) with
 * structured-clone IPC, passes it its config, and exposes when it is ready, its messages, and its
 * end (`close`: after the last message it sent has been read, so no reported ack is missed).
 * `forkWorker` does the same for any worker script (the fault harness's app processes).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildConfig, ChildMessage } from './protocol.js'

const CHILD = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './child.ts' : './child.js', import.meta.url))
const STDERR_KEPT = 4000

/** A forked worker process: its ready message, its end, and signals. */
export interface WorkerProcess<Ready> {
  /** Resolves with the ready message; rejects when the child ends first or reports `failed`. */
  readonly ready: Promise<Ready>
  /** Resolves when the child has exited and its last message was handled. */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly pid: number
  send(message: unknown): void
  /** SIGKILL (if it still runs). */
  kill(): void
  /** Sends `signal` (SIGSTOP, SIGCONT) if it still runs. */
  signal(signal: NodeJS.Signals): void
  /** The end of what it wrote to stderr, for error messages. */
  stderr(): string
}

export type WorkloadChild = WorkerProcess<Extract<ChildMessage, { type: 'ready' }>>

export function forkChild(config: ChildConfig, onMessage: (message: ChildMessage) => void): WorkloadChild {
  return forkWorker<ChildMessage>(CHILD, config, onMessage)
}

/**
 * Forks `script` (a .ts file under tsx, or .js) with structured-clone IPC and sends it `config` as
 * its first message. Its messages are typed `M`; `{ type: 'ready' }` resolves `ready`, and
 * `{ type: 'failed', message }` rejects it. Messages sent before a SIGKILL are still delivered:
 * `ended` resolves after the last one was handled.
 */
export function forkWorker<M extends { readonly type: string }>(script: string, config: unknown, onMessage: (message: M) => void): WorkerProcess<Extract<M, { type: 'ready' }>> {
  const child: ChildProcess = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: childExecArgv(script) })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEPT)
  })
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })))
  const ready = new Promise<Extract<M, { type: 'ready' }>>((resolve, reject) => {
    child.on('message', (message: M) => {
      if (message.type === 'ready') resolve(message as Extract<M, { type: 'ready' }>)
      if (message.type === 'failed') reject(new Error(`the workload failed: ${String((message as { message?: unknown }).message)}`))
      onMessage(message)
    })
    void ended.then(() => reject(new Error(`the workload exited before it was ready${stderr === '' ? '' : `: ${stderr.trim()}`}`)))
  })
  ready.catch(() => {}) // a caller that never awaits it (a run killed while starting) is not an unhandled rejection
  child.send(config as object)
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  return {
    ready,
    ended,
    pid: child.pid as number,
    send: (message) => {
      if (child.connected) child.send(message as object)
    },
    kill: () => {
      if (running()) child.kill('SIGKILL')
    },
    signal: (signal) => {
      if (running()) child.kill(signal)
    },
    stderr: () => stderr,
  }
}

/**
 * The loader the sources need: the parent's own loader flags (`tsx file.ts`, `node --import tsx`),
 * or tsx's when it was registered through its API (bin/writebehind.js in a checkout). None when built.
 */
function childExecArgv(script: string): string[] {
  const kept = loaderArgs(process.execArgv)
  return script.endsWith('.ts') && kept.length === 0 ? ['--import', import.meta.resolve('tsx')] : kept
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
