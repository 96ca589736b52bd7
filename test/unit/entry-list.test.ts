import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { EntryList, type Linked } from '../../src/tier/embedded/entry-list.js'

class Item implements Linked<Item> {
  prev: Item | undefined = undefined
  next: Item | undefined = undefined
  list: object | undefined = undefined
  constructor(readonly id: number) {}
}

describe('EntryList', () => {
  it('behaves like an ordered set under random pushes and removals', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 19 })), { maxLength: 200 }), (steps) => {
        const items = Array.from({ length: 20 }, (_, i) => new Item(i))
        const list = new EntryList<Item>()
        const model: number[] = []
        for (const [push, id] of steps) {
          const item = items[id]!
          if (push && !list.has(item)) {
            list.push(item)
            model.push(id)
          } else if (!push && list.has(item)) {
            list.remove(item)
            model.splice(model.indexOf(id), 1)
          }
          assert.deepEqual(
            [...list].map((i) => i.id),
            model,
          )
          assert.equal(list.size, model.length)
          assert.equal(list.head?.id, model[0])
          assert.equal(list.tail?.id, model.at(-1))
        }
      }),
    )
  })

  it('lets the walker remove the item it stands on', () => {
    const list = new EntryList<Item>()
    const items = [1, 2, 3, 4].map((i) => new Item(i))
    for (const item of items) list.push(item)
    for (const item of list) if (item.id % 2 === 0) list.remove(item)
    assert.deepEqual(
      [...list].map((i) => i.id),
      [1, 3],
    )
    assert.equal(items[1]!.list, undefined)
  })
})
