/// Deterministic jitter: the delay of one fire depends only on (schedule key, nominal fire
/// time), so every replica, and a retry after a crash, computes the same due time.
public enum Jitter {
  /// A delay in `[0, jitterMilliseconds)` for the fire of `scheduleKey` at `fireTime`.
  public static func delay(scheduleKey: String, fireTime: Int64, jitterMilliseconds: Int64) -> Int64 {
    guard jitterMilliseconds > 1 else { return 0 }
    // FNV-1a over the key and the time, then a SplitMix64 finaliser to spread the bits.
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in scheduleKey.utf8 {
      hash ^= UInt64(byte)
      hash &*= 0x100_0000_01b3
    }
    var time = UInt64(bitPattern: fireTime)
    for _ in 0..<8 {
      hash ^= time & 0xff
      hash &*= 0x100_0000_01b3
      time >>= 8
    }
    hash ^= hash >> 30
    hash &*= 0xbf58_476d_1ce4_e5b9
    hash ^= hash >> 27
    hash &*= 0x94d0_49bb_1331_11eb
    hash ^= hash >> 31
    return Int64(hash % UInt64(jitterMilliseconds))
  }
}
