import Foundation
import Synchronization

extension UUID {
    private static let v7State = Mutex<(ms: UInt64, counter: UInt16)>((0, 0))

    /// A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, a 12-bit counter that
    /// keeps ids from one process increasing within a millisecond, then random bits.
    ///
    /// The log's event-id index is a B-tree: ids that grow with time are appended at its end, while
    /// random (version 4) ids dirty a random page per event and multiply what each commit writes.
    /// Any UUID is accepted; this is the default for `NewEvent`.
    public static func timeOrdered() -> UUID {
        let now = UInt64(max(0, Timestamp.nowMicros() / 1000))
        let (ms, counter): (UInt64, UInt16) = v7State.withLock { s in
            if now > s.ms {
                s = (now, UInt16.random(in: 0..<0x400))
            } else if s.counter < 0xFFF {
                s.counter += 1
            } else {
                s = (s.ms + 1, 0)  // counter exhausted: borrow the next millisecond
            }
            return (s.ms, s.counter)
        }
        var r = SystemRandomNumberGenerator()
        let rand = r.next() as UInt64
        var b = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: ms >> (8 * (5 - i))) }
        b[6] = 0x70 | UInt8(truncatingIfNeeded: counter >> 8)
        b[7] = UInt8(truncatingIfNeeded: counter)
        for i in 0..<8 { b[8 + i] = UInt8(truncatingIfNeeded: rand >> (8 * i)) }
        b[8] = 0x80 | (b[8] & 0x3F)
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
