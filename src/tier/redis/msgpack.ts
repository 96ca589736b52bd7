/**
 * A decoder for the MessagePack that the tier's scripts pack their larger replies into (Redis's
 * and Valkey's Lua both have `cmsgpack`): one bulk string per call instead of several per entry,
 * which Redis builds and the client parses once. It reads what `cmsgpack.pack` writes from the
 * scripts' values: arrays, strings (as UTF-8: keys and payloads are JavaScript strings the tier
 * sent), integers, doubles, nil and booleans. Maps and the `bin`/`ext` types are refused: no
 * script packs them.
 */

export type Unpacked = string | number | boolean | null | Unpacked[]

/** The value packed in `bytes` (which must hold exactly one). */
export function unpack(bytes: Buffer): Unpacked {
  const reader = new Reader(bytes)
  const value = reader.value()
  if (reader.at !== bytes.length) throw new Error(`msgpack: ${bytes.length - reader.at} bytes after the value`)
  return value
}

class Reader {
  at = 0

  constructor(private readonly bytes: Buffer) {}

  value(): Unpacked {
    const { bytes } = this
    const type = this.byte()
    if (type <= 0x7f) return type
    if (type >= 0xe0) return type - 0x100
    if (type >= 0xa0 && type <= 0xbf) return this.string(type & 0x1f)
    if (type >= 0x90 && type <= 0x9f) return this.array(type & 0x0f)
    switch (type) {
      case 0xc0:
        return null
      case 0xc2:
        return false
      case 0xc3:
        return true
      case 0xcb:
        return this.advance(8, bytes.readDoubleBE(this.at))
      case 0xcc:
        return this.byte()
      case 0xcd:
        return this.advance(2, bytes.readUInt16BE(this.at))
      case 0xce:
        return this.advance(4, bytes.readUInt32BE(this.at))
      case 0xcf:
        return this.advance(8, bytes.readUInt32BE(this.at) * 2 ** 32 + bytes.readUInt32BE(this.at + 4))
      case 0xd0:
        return this.advance(1, bytes.readInt8(this.at))
      case 0xd1:
        return this.advance(2, bytes.readInt16BE(this.at))
      case 0xd2:
        return this.advance(4, bytes.readInt32BE(this.at))
      case 0xd3:
        return this.advance(8, bytes.readInt32BE(this.at) * 2 ** 32 + bytes.readUInt32BE(this.at + 4))
      case 0xd9:
        return this.string(this.byte())
      case 0xda:
        return this.string(this.advance(2, bytes.readUInt16BE(this.at)))
      case 0xdb:
        return this.string(this.advance(4, bytes.readUInt32BE(this.at)))
      case 0xdc:
        return this.array(this.advance(2, bytes.readUInt16BE(this.at)))
      case 0xdd:
        return this.array(this.advance(4, bytes.readUInt32BE(this.at)))
      default:
        throw new Error(`msgpack: type 0x${type.toString(16)} at byte ${this.at - 1} is not one the tier's scripts pack`)
    }
  }

  private byte(): number {
    const byte = this.bytes[this.at++]
    if (byte === undefined) throw new Error('msgpack: the value ends early')
    return byte
  }

  /** Moves past `length` bytes, answering `value`, read before the move (a Buffer read past the end throws). */
  private advance<T>(length: number, value: T): T {
    this.at += length
    return value
  }

  private string(length: number): string {
    const end = this.at + length
    if (end > this.bytes.length) throw new Error('msgpack: a string runs past the end')
    const text = this.bytes.toString('utf8', this.at, end)
    this.at = end
    return text
  }

  private array(length: number): Unpacked[] {
    const items = new Array<Unpacked>(length)
    for (let i = 0; i < length; i++) items[i] = this.value()
    return items
  }
}
