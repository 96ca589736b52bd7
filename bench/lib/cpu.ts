/**
 * Where a measurement's CPU went, read from /proc over a window (the load, or the drain): the
 * measuring process and every process under it (its app processes, `app`; the Redis servers it
 * started, `redis`), the PostgreSQL backends serving those processes' connections (`pg`: found by
 * matching their TCP sockets with ours), the whole PostgreSQL cluster (`pgCluster`: the postmaster
 * and every process under it, its background processes and other clients' backends included), and
 * the machine (/proc/stat busy ÷ all jiffies, which also shows other load). Each process counts
 * its own time plus that of the children it reaped (utime + stime + cutime + cstime), so a process
 * that exits inside the window is still counted, once, in its parent; a backend of ours that exits
 * inside the window is not counted for that window. Readers throw when /proc or a named pid cannot
 * be read: a figure is never a silent 0. Linux only; reading other users' sockets needs root or
 * the postgres user.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

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
  /** Each backend serving a connection of the measuring process or one under it: pid → µs. */
  readonly pgBackends: ReadonlyMap<number, number>
  readonly pgClusterUs: number
  readonly machineBusy: number
  readonly machineAll: number
  readonly cores: number
}

/** What each group spent over a window, and the machine's busy cores (e.g. 1.62 of 2). */
export interface CpuWindow {
  readonly appUs: number
  readonly redisUs: number
  /** The backends serving the measured processes (those alive at the window's end). */
  readonly pgUs: number
  /** The whole cluster: its background processes and every client's backends. */
  readonly pgClusterUs: number
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

/** Whose processes to read: `root` (default: this process) and what runs under it, and the PostgreSQL cluster under `postmaster`. */
export interface SnapshotTarget {
  readonly postmaster: number
  readonly root?: number
  readonly proc?: string
}

/** One reading of every group. */
export function snapshot(target: SnapshotTarget): CpuSnapshot {
  clockTicks() // before any reading: its getconf child would otherwise count in the window
  // A process may exit between the listing and its read; a few tries, then the error stands.
  for (let attempt = 1; ; attempt++) {
    try {
      return snapshotOnce(target.root ?? process.pid, target.postmaster, target.proc ?? '/proc')
    } catch (err) {
      if (attempt >= 5) throw err
    }
  }
}

function snapshotOnce(root: number, postmaster: number, proc: string): CpuSnapshot {
  const self = readProcessCpu(root, proc)
  const pm = readProcessCpu(postmaster, proc)
  const all = allProcesses(proc)
  const under = descendants(root, all)
  const redis = under.filter(isRedis)
  const cluster = descendants(postmaster, all)
  const sockets = tcpSockets(proc)
  const ours = new Set([self, ...under].flatMap((p) => socketsOf(p.pid, proc, sockets)))
  const backends = cluster.filter((p) => socketsOf(p.pid, proc, sockets).some((s) => ours.has(reversed(s))))
  const machine = readMachine(proc)
  return {
    appUs: self.cpuUs + sum(under.filter((p) => !isRedis(p))),
    redisUs: redis.length === 0 ? Number.NaN : sum(redis),
    pgBackends: new Map(backends.map((p) => [p.pid, p.cpuUs])),
    pgClusterUs: pm.cpuUs + sum(cluster),
    machineBusy: machine.busy,
    machineAll: machine.all,
    cores: machine.cores,
  }
}

/** Every TCP socket's inode → "local:remote" (address and port, as /proc/net/tcp{,6} spell them). */
function tcpSockets(proc: string): Map<string, string> {
  const sockets = new Map<string, string>()
  for (const file of ['tcp', 'tcp6']) {
    const lines = readFileSync(`${proc}/net/${file}`, 'utf8').trim().split('\n').slice(1)
    for (const line of lines) {
      const f = line.trim().split(/\s+/)
      if (f[1] !== undefined && f[2] !== undefined && f[9] !== undefined) sockets.set(f[9], `${f[1]}>${f[2]}`)
    }
  }
  return sockets
}

/** The "local>remote" of each TCP socket `pid` holds. */
function socketsOf(pid: number, proc: string, sockets: ReadonlyMap<string, string>): string[] {
  const dir = `${proc}/${pid}/fd`
  return readdirSync(dir).flatMap((fd) => {
    const inode = /^socket:\[(\d+)\]$/.exec(linkOf(`${dir}/${fd}`))?.[1]
    const pair = inode === undefined ? undefined : sockets.get(inode)
    return pair === undefined ? [] : [pair]
  })
}

/** Where a descriptor points; '' for one closed since its directory was listed (the process lives on: it only closed a file). */
function linkOf(path: string): string {
  try {
    return readlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw err
  }
}

const reversed = (pair: string): string => pair.split('>').reverse().join('>')

/** What was spent between two snapshots. A group absent from either side (no Redis at the start) counts from 0 when it appeared. */
export function between(before: CpuSnapshot, after: CpuSnapshot): CpuWindow {
  const all = after.machineAll - before.machineAll
  const redis = Number.isNaN(after.redisUs) ? Number.NaN : after.redisUs - (Number.isNaN(before.redisUs) ? 0 : before.redisUs)
  let pg = 0
  for (const [pid, us] of after.pgBackends) pg += us - (before.pgBackends.get(pid) ?? 0)
  return {
    appUs: after.appUs - before.appUs,
    redisUs: redis,
    pgUs: Number.isNaN(after.pgClusterUs) ? Number.NaN : pg,
    pgClusterUs: after.pgClusterUs - before.pgClusterUs,
    busyCores: all > 0 ? ((after.machineBusy - before.machineBusy) / all) * after.cores : Number.NaN,
    cores: after.cores,
  }
}

/** A window opened by `begin()` and closed by `end()` (both synchronous: called from the load's first and last moments). */
export class CpuMeter {
  private start: CpuSnapshot | undefined
  private window: CpuWindow | undefined

  constructor(private readonly read: () => CpuSnapshot) {}

  /**
   * A meter for a machine where the figures cannot be read (no /proc, PostgreSQL on another host or
   * in another pid namespace, other users' sockets unreadable): every window is NaN, shown as —,
   * never 0.
   */
  static unavailable(): CpuMeter {
    const none: CpuSnapshot = { appUs: Number.NaN, redisUs: Number.NaN, pgBackends: new Map(), pgClusterUs: Number.NaN, machineBusy: Number.NaN, machineAll: Number.NaN, cores: Number.NaN }
    return new CpuMeter(() => none)
  }

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

/** The pid of the postmaster serving `pool`: the parent of one of its backends. */
export async function postmasterOf(pool: { query(text: string): Promise<{ rows: unknown[] }> }): Promise<number> {
  const { rows } = await pool.query('SELECT pg_backend_pid() AS pid')
  const pid = Number((rows[0] as { pid: unknown } | undefined)?.pid)
  if (!Number.isInteger(pid)) throw new Error('pg_backend_pid() gave no pid')
  return readProcessCpu(pid).ppid
}
