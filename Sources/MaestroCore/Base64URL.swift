/// Unpadded base64url (RFC 4648 §5) without Foundation.
public enum Base64URL {
  private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

  public static func encode(_ bytes: some Sequence<UInt8>) -> String {
    let bytes = Array(bytes)
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count * 4 + 2) / 3)
    var index = 0
    while index + 3 <= bytes.count {
      let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
      out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], alphabet[Int(value & 63)]]
      index += 3
    }
    let rest = bytes.count - index
    if rest == 1 {
      let value = UInt32(bytes[index]) << 16
      out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)]]
    } else if rest == 2 {
      let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
      out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)]]
    }
    return String(decoding: out, as: UTF8.self)
  }

  public static func decode(_ text: String) -> [UInt8]? {
    var values: [UInt32] = []
    values.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(UInt32(byte - UInt8(ascii: "A")))
      case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(UInt32(byte - UInt8(ascii: "a") + 26))
      case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(UInt32(byte - UInt8(ascii: "0") + 52))
      case UInt8(ascii: "-"), UInt8(ascii: "+"): values.append(62)
      case UInt8(ascii: "_"), UInt8(ascii: "/"): values.append(63)
      case UInt8(ascii: "="): continue
      default: return nil
      }
    }
    if values.count % 4 == 1 { return nil }
    var out: [UInt8] = []
    var index = 0
    while index < values.count {
      let chunk = values[index..<min(index + 4, values.count)]
      var value: UInt32 = 0
      for (offset, digit) in chunk.enumerated() { value |= digit << (18 - 6 * UInt32(offset)) }
      out.append(UInt8(value >> 16 & 0xFF))
      if chunk.count > 2 { out.append(UInt8(value >> 8 & 0xFF)) }
      if chunk.count > 3 { out.append(UInt8(value & 0xFF)) }
      index += 4
    }
    return out
  }
}
