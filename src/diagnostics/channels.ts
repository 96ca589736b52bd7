/**
 * The cache's `node:diagnostics_channel` channels, created once per process (a channel is global
 * by name, so every cache and every copy of this module publishes on the same ones), and
 * `Diagnostics`, which publishes one cache's messages (contracts/diagnostics.ts). Every publish
 * is behind a `hasSubscribers` check, so with nobody listening no message is built.
 *
 * The contract leaves out the write channel and the store-batch TracingChannel, which their
 * owners publish (core/ack-meter.ts, flush/batch-meter.ts): they are exported here for them.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import { CHANNELS } from '../contracts/diagnostics.js'
import type { BacklogFullMessage, CircuitMessage, DeadLetterMessage, LogFsyncMessage, RecoveryMessage, StoreBatchContext, WriteMessage } from '../contracts/diagnostics.js'

export const writeChannel = diagnosticsChannel.channel(CHANNELS.write)
export const storeBatchChannel = diagnosticsChannel.tracingChannel<StoreBatchContext>(CHANNELS.storeBatch)
const deadLetterChannel = diagnosticsChannel.channel(CHANNELS.deadLetter)
const circuitChannel = diagnosticsChannel.channel(CHANNELS.circuit)
const backlogFullChannel = diagnosticsChannel.channel(CHANNELS.backlogFull)
const logFsyncChannel = diagnosticsChannel.channel(CHANNELS.logFsync)
const recoveryChannel = diagnosticsChannel.channel(CHANNELS.recovery)

/** Publishes one cache's messages, each carrying its name. Stateless but for the name. */
export class Diagnostics {
  constructor(readonly cache: string) {}

  /** A write was acknowledged, or failed after it passed the door checks. */
  write(op: WriteMessage['op'], key: string, durability: WriteMessage['durability'], durationMs: number, ok: boolean): void {
    if (!writeChannel.hasSubscribers) return
    const message: WriteMessage = { cache: this.cache, op, durability, durationMs, ok, key }
    writeChannel.publish(message)
  }

  deadLetter(key: string, version: number, error: Error): void {
    if (!deadLetterChannel.hasSubscribers) return
    const message: DeadLetterMessage = { cache: this.cache, key, version, error }
    deadLetterChannel.publish(message)
  }

  circuitOpened(failures: number): void {
    if (!circuitChannel.hasSubscribers) return
    const message: CircuitMessage = { cache: this.cache, state: 'open', failures }
    circuitChannel.publish(message)
  }

  circuitClosed(openForMs: number): void {
    if (!circuitChannel.hasSubscribers) return
    const message: CircuitMessage = { cache: this.cache, state: 'closed', openForMs }
    circuitChannel.publish(message)
  }

  backlogFull(entries: number, bytes: number): void {
    if (!backlogFullChannel.hasSubscribers) return
    const message: BacklogFullMessage = { cache: this.cache, entries, bytes }
    backlogFullChannel.publish(message)
  }

  logFsync(durationMs: number): void {
    if (!logFsyncChannel.hasSubscribers) return
    const message: LogFsyncMessage = { cache: this.cache, durationMs }
    logFsyncChannel.publish(message)
  }

  recovery(records: number, keys: number, durationMs: number): void {
    if (!recoveryChannel.hasSubscribers) return
    const message: RecoveryMessage = { cache: this.cache, records, keys, durationMs }
    recoveryChannel.publish(message)
  }
}
