/**
 * An intrusive doubly linked list of cache entries. The dirty set (in order of first unflushed
 * write) and the clean LRU set are such lists: appending, removing from anywhere and walking from
 * the oldest are O(1) per entry with no hashing, where a `Map` used as an ordered set pays a hash
 * lookup per operation and, after many deletes at its front, skips their holes on every walk.
 * An entry is in at most one list at a time (dirty, clean, or none while in flight or pinned).
 */

export interface Linked<T> {
  prev: T | undefined
  next: T | undefined
  /** The list the entry is in (compared by identity), or undefined. */
  list: object | undefined
}

export class EntryList<T extends Linked<T>> {
  head: T | undefined = undefined
  tail: T | undefined = undefined
  size = 0

  /** Appends `item` at the tail (the newest end). It must not be in a list. */
  push(item: T): void {
    item.prev = this.tail
    item.next = undefined
    if (this.tail === undefined) this.head = item
    else this.tail.next = item
    this.tail = item
    item.list = this
    this.size++
  }

  /** Removes `item`, which must be in this list. */
  remove(item: T): void {
    if (item.prev === undefined) this.head = item.next
    else item.prev.next = item.next
    if (item.next === undefined) this.tail = item.prev
    else item.next.prev = item.prev
    item.prev = undefined
    item.next = undefined
    item.list = undefined
    this.size--
  }

  has(item: T): boolean {
    return item.list === this
  }

  /** Items from the oldest; removing the current item while walking is safe. */
  *[Symbol.iterator](): Generator<T> {
    let item = this.head
    while (item !== undefined) {
      const next: T | undefined = item.next
      yield item
      item = next
    }
  }
}
