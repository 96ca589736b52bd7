/**
 * Where a measurement's CPU went, read from /proc over a window (the load, or the drain): the
 * measuring process and every process under it (its app processes, `app`; the Redis servers it
 * started, `redis`), the whole PostgreSQL cluster (every process named postgres, shared with
 * whatever else uses it), and the machine (/proc/stat busy ÷ all jiffies, which also shows other
 * load). Each process counts its own time plus that of the children it reaped (utime + stime +
 * cutime + cstime), so a process that exits inside the window is still counted, once, in its
 * parent. Readers throw when /proc or a named pid cannot be read: a figure is never a silent 0.
 * Linux only.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** One process's line of /proc/<pid>/stat: its name, parent and CPU time (µs, reaped children included). */
export interface ProcessCpu {
  readonly pid: number
  readonly comm: string
  readonly ppid: number
  readonly cpuUs: number
}

/** CPU time of each group (µs) and the machine's jiffies, at one instant. */
export interface CpuSnapshot {
  readonly appUs: number
  /** NaN when no Redis server runs under the measuring process (a system on a shared Redis, or none). */
  readonly redisUs: number
  readonly pgUs: number
  readonly machineBusy: number
  readonly machineAll: number
  readonly cores: number
}

/** What each group spent over a window, and the machine's busy cores (e.g. 1.62 of 2). */
export interface CpuWindow {
  readonly appUs: number
  readonly redisUs: number
  readonly pgUs: number
  readonly busyCores: number
  readonly cores: number
}

let ticksPerSecond: number | undefined

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) throw new Error(`getconf CLK_TCK gave "${ticksPerSecond}"`)
  return ticksPerSecond
}

/** Reads /proc/<pid>/stat; throws, naming the pid, when the process is gone or /proc is unreadable. */
export function readProcessCpu(pid: number, proc = '/proc'): ProcessCpu {
  let text: string
  try {
    text = readFileSync(`${proc}/${pid}/stat`, 'utf8')
  } catch (err) {
    throw new Error(`cannot read the CPU time of pid ${pid} from ${proc}/${pid}/stat (${(err as Error).message}): the process is gone or /proc is unreadable`, { cause: err })
  }
  // The name sits in parentheses and may itself hold spaces or parentheses: split after the last one.
  const close = text.lastIndexOf(')')
  const fields = text.slice(close + 2).split(' ')
  // After the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17), counted from 1 with pid and comm.
  const [ppid, utime, stime, cutime, cstime] = [fields[1], fields[11], fields[12], fields[13], fields[14]].map(Number)
  if (close < 0 || [ppid, utime, stime, cutime, cstime].some((n) => n === undefined || !Number.isFinite(n))) throw new Error(`${proc}/${pid}/stat does not parse: "${text.trim()}"`)
  const ticks = utime! + stime! + cutime! + cstime!
  return { pid, comm: text.slice(text.indexOf('(') + 1, close), ppid: ppid!, cpuUs: (ticks * 1e6) / clockTicks() }
}

/** The machine's busy and total jiffies over all cores since boot, and its core count, from /proc/stat. */
export function readMachine(proc = '/proc'): { busy: number; all: number; cores: number } {
  const text = readFileSync(`${proc}/stat`, 'utf8')
  const line = text.split('\n').find((l) => l.startsWith('cpu '))
  if (line === undefined) throw new Error(`${proc}/stat has no "cpu " line`)
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const parts = [user, nice, system, idle, iowait, irq, softirq, steal]
  if (parts.some((n) => n === undefined || !Number.isFinite(n))) throw new Error(`${proc}/stat's cpu line does not parse: "${line}"`)
  const busy = user! + nice! + system! + irq! + softirq! + steal!
  const cores = text.split('\n').filter((l) => /^cpu\d+ /.test(l)).length
  return { busy, all: busy + idle! + iowait!, cores }
}

/** Every process in /proc; a process that exits between the listing and its read throws (the caller retries). */
function allProcesses(proc: string): ProcessCpu[] {
  const pids = readdirSync(proc).filter((name) => /^\d+$/.test(name))
  return pids.map((name) => readProcessCpu(Number(name), proc))
}

function descendants(root: number, all: readonly ProcessCpu[]): ProcessCpu[] {
  const found: ProcessCpu[] = []
  const seen = new Set([root])
  for (let grew = true; grew;) {
    grew = false
    for (const p of all) {
      if (!seen.has(p.pid) && seen.has(p.ppid)) {
        seen.add(p.pid)
        found.push(p)
        grew = true
      }
    }
  }
  return found
}

const isRedis = (p: ProcessCpu): boolean => p.comm.startsWith('redis-')
const sum = (ps: readonly ProcessCpu[]): number => ps.reduce((total, p) => total + p.cpuUs, 0)

/** One reading of every group, with `root` (default: this process) and what runs under it. */
export function snapshot(root = process.pid, proc = '/proc'): CpuSnapshot {
  // A process may exit between the listing and its read; a few tries, then the error stands.
  for (let attempt = 1; ; attempt++) {
    try {
      return snapshotOnce(root, proc)
    } catch (err) {
      if (attempt >= 5) throw err
    }
  }
}

function snapshotOnce(root: number, proc: string): CpuSnapshot {
  const self = readProcessCpu(root, proc)
  const all = allProcesses(proc)
  const under = descendants(root, all)
  const redis = under.filter(isRedis)
  const postgres = all.filter((p) => p.comm === 'postgres' || p.comm === 'postmaster')
  if (postgres.length === 0) throw new Error(`no postgres process in ${proc}: PostgreSQL's CPU cannot be read`)
  const machine = readMachine(proc)
  return {
    appUs: self.cpuUs + sum(under.filter((p) => !isRedis(p))),
    redisUs: redis.length === 0 ? Number.NaN : sum(redis),
    pgUs: sum(postgres),
    machineBusy: machine.busy,
    machineAll: machine.all,
    cores: machine.cores,
  }
}

/** What was spent between two snapshots. A group absent from either side (no Redis at the start) counts from 0 when it appeared. */
export function between(before: CpuSnapshot, after: CpuSnapshot): CpuWindow {
  const all = after.machineAll - before.machineAll
  const redis = Number.isNaN(after.redisUs) ? Number.NaN : after.redisUs - (Number.isNaN(before.redisUs) ? 0 : before.redisUs)
  return {
    appUs: after.appUs - before.appUs,
    redisUs: redis,
    pgUs: after.pgUs - before.pgUs,
    busyCores: all > 0 ? ((after.machineBusy - before.machineBusy) / all) * after.cores : Number.NaN,
    cores: after.cores,
  }
}

/** A window opened by `begin()` and closed by `end()` (both synchronous: called from the load's first and last moments). */
export class CpuMeter {
  private start: CpuSnapshot | undefined
  private window: CpuWindow | undefined

  constructor(private readonly read: () => CpuSnapshot = snapshot) {}

  begin(): void {
    this.start = this.read()
  }

  end(): void {
    if (this.start === undefined) throw new Error('CpuMeter.end() before begin()')
    this.window = between(this.start, this.read())
  }

  /** The closed window; throws if it was never opened and closed (a load path that did not call the hooks). */
  result(): CpuWindow {
    if (this.window === undefined) throw new Error('the CPU window was never opened and closed: the load did not call begin() and end()')
    return this.window
  }
}
