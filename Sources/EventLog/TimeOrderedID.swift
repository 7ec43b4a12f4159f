import Foundation
import Synchronization

extension UUID {
    private struct V7State {
        var ms: UInt64 = 0
        var counter: UInt16 = 0
        /// xorshift64* state, seeded once from the system generator: a `getrandom` call per id
        /// costs more than the rest of an append.
        var random: UInt64 = {
            var g = SystemRandomNumberGenerator()
            return g.next() | 1
        }()
        mutating func next() -> UInt64 {
            random ^= random >> 12
            random ^= random << 25
            random ^= random >> 27
            return random &* 2685821657736338717
        }
    }
    private static let v7State = Mutex(V7State())

    /// A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, a 12-bit counter that
    /// keeps ids from one process increasing within a millisecond, then random bits.
    ///
    /// The log's event-id index is a B-tree: ids that grow with time are appended at its end, while
    /// random (version 4) ids dirty a random page per event and multiply what each commit writes.
    /// Any UUID is accepted; this is the default for `NewEvent`.
    public static func timeOrdered() -> UUID {
        let now = UInt64(max(0, Timestamp.nowMicros() / 1000))
        let (ms, counter, rand): (UInt64, UInt16, UInt64) = v7State.withLock { s in
            if now > s.ms {
                s.ms = now
                s.counter = UInt16(truncatingIfNeeded: s.next() & 0x3FF)
            } else if s.counter < 0xFFF {
                s.counter += 1
            } else {
                s.ms += 1  // counter exhausted: borrow the next millisecond
                s.counter = 0
            }
            return (s.ms, s.counter, s.next())
        }
        func byte(_ v: UInt64, _ shift: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: v >> shift) }
        return UUID(uuid: (byte(ms, 40), byte(ms, 32), byte(ms, 24), byte(ms, 16), byte(ms, 8), byte(ms, 0),
                           0x70 | byte(UInt64(counter), 8), byte(UInt64(counter), 0),
                           0x80 | (byte(rand, 0) & 0x3F), byte(rand, 8), byte(rand, 16), byte(rand, 24),
                           byte(rand, 32), byte(rand, 40), byte(rand, 48), byte(rand, 56)))
    }
}
