/**
 * Per-key turns: tasks on one key run one after another, in call order; tasks on different keys
 * do not wait for each other (no global lock). A key's entry lives only while it has a task
 * running or waiting, so an idle key costs nothing. `update()` takes its turn here.
 */

export class KeyChain {
  /** The last task of each busy key, settled either way (a failed task does not block the next). */
  private readonly tails = new Map<string, Promise<void>>()

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.tails.size
  }

  /**
   * Runs `task` once every earlier task of `key` has settled (at once when none is pending); the
   * promise is the task's. The task's turn ends when its promise settles.
   */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key)
    const result = previous === undefined ? task() : previous.then(task)
    const tail = result.then(ignore, ignore)
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }
}

function ignore(): void {}
