/**
 * Live progress for long-running commands. On a terminal one status line is rewritten in place;
 * anywhere else (a pipe, a file, CI) a plain line is printed at a slower pace, with no control
 * characters.
 */
import { systemClock, type Clock, type TimerHandle } from '../contracts/clock.js'

export interface ProgressOptions {
  /** Time source for the ticks. @default the system clock */
  clock?: Clock
  /** Redraw period on a terminal. @default 500 */
  ttyIntervalMs?: number
  /** Line period when the output is not a terminal. @default 2000 */
  plainIntervalMs?: number
}

/** True when `out` is a terminal (a TTY write stream). */
export function isTerminal(out: NodeJS.WritableStream): boolean {
  return (out as { isTTY?: unknown }).isTTY === true
}

export class ProgressLine {
  private timer: TimerHandle | undefined
  private readonly tty: boolean
  private readonly clock: Clock
  private drawn = false

  /** `render` builds the status line; it is called once per tick. */
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly render: () => string,
    private readonly options: ProgressOptions = {},
  ) {
    this.tty = isTerminal(out)
    this.clock = options.clock ?? systemClock
  }

  /** Starts ticking. */
  start(): void {
    if (this.timer === undefined) this.schedule()
  }

  /** Stops ticking; on a terminal, ends the status line so what follows starts on a fresh one. */
  stop(): void {
    if (this.timer === undefined) return
    this.clock.clearTimeout(this.timer)
    this.timer = undefined
    if (this.tty && this.drawn) this.out.write('\n')
  }

  private schedule(): void {
    const period = this.tty ? (this.options.ttyIntervalMs ?? 500) : (this.options.plainIntervalMs ?? 2000)
    this.timer = this.clock.setTimeout(() => {
      this.draw()
      this.schedule()
    }, period)
  }

  private draw(): void {
    const line = this.render()
    // \r back to column 0, then erase to the end of the line so a shorter line leaves no debris.
    if (this.tty) this.out.write(`\r${this.fit(line)}\x1b[K`)
    else this.out.write(`${line}\n`)
    this.drawn = true
  }

  /** Cuts a line to the terminal's width: a wrapped line could not be redrawn in place. */
  private fit(line: string): string {
    const columns = (this.out as { columns?: unknown }).columns
    return typeof columns === 'number' && columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line
  }

  /** Whether at least one line was drawn. */
  get started(): boolean {
    return this.drawn
  }
}

/** A text progress bar: `[#########.........]  45%`. */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total))
  const filled = Math.round(fraction * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`
}

/** A count with thousands separators: 1234567 → "1,234,567". */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** Milliseconds, readable: "42 µs", "4.20 ms", "12.3 ms", "1.52 s". */
export function duration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  if (ms >= 10) return `${ms.toFixed(1)} ms`
  if (ms >= 1) return `${ms.toFixed(2)} ms`
  if (ms === 0) return '0 ms'
  return `${Math.round(ms * 1000)} µs`
}
