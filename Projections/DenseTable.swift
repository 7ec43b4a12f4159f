/// Values by a dense integer key (ticket numbers), in chunks of 1,024 optional slots.
///
/// For per-ticket data that would otherwise sit in a `Dictionary` keyed by ticket number: a
/// dictionary keeps its buckets at most 3/4 full with a power-of-two capacity (up to 2.7× the
/// entries' size) and copies all of them each time it grows; here a slot costs the value's own
/// size, growing allocates one chunk, and a lookup is two array indexes. Keys below 1 or above 2²⁸
/// go to a small dictionary beside (a stray large key must not allocate chunks up to it).
struct DenseTable<Value> {
    private static var shift: Int { 10 }
    private static var width: Int { 1 << shift }
    private var chunks: [[Value?]?] = []
    private var others: [Int: Value] = [:]
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    private static func slot(_ n: Int) -> (chunk: Int, index: Int)? {
        guard n >= 1, n <= 1 << 28 else { return nil }
        return ((n - 1) >> shift, (n - 1) & (width - 1))
    }

    /// Lent on read, changed in place on write (`table[n]?.append(…)` does not copy the value).
    subscript(n: Int) -> Value? {
        _read {
            if let (c, i) = Self.slot(n) {
                if c < chunks.count, chunks[c] != nil { yield chunks[c]![i] } else { yield nil }
            } else {
                yield others[n]
            }
        }
        _modify {
            guard let (c, i) = Self.slot(n) else {
                let had = others[n] != nil
                defer { count += (others[n] != nil ? 1 : 0) - (had ? 1 : 0) }
                yield &others[n]
                return
            }
            if chunks.count <= c { chunks += Array(repeating: nil, count: c + 1 - chunks.count) }
            if chunks[c] == nil { chunks[c] = Array(repeating: nil, count: Self.width) }
            let had = chunks[c]![i] != nil
            defer { count += (chunks[c]![i] != nil ? 1 : 0) - (had ? 1 : 0) }
            yield &chunks[c]![i]
        }
    }

    /// Every (key, value), by ascending key.
    func forEach(_ body: (Int, Value) throws -> Void) rethrows {
        for (k, v) in others.filter({ $0.key < 1 }).sorted(by: { $0.key < $1.key }) { try body(k, v) }
        for (c, chunk) in chunks.enumerated() {
            guard let chunk else { continue }
            for (i, v) in chunk.enumerated() { if let v { try body(c << Self.shift + i + 1, v) } }
        }
        for (k, v) in others.filter({ $0.key > 1 << 28 }).sorted(by: { $0.key < $1.key }) { try body(k, v) }
    }
}
