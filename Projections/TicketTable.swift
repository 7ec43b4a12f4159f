import SupportDesk

/// The desk view's tickets by number, in chunks of 1,024 slots.
///
/// Ticket numbers are handed out one after another, so the view's set of them is dense. A
/// `Dictionary` of `TicketState` (504 bytes inline) kept them in buckets at most 3/4 full with a
/// power-of-two capacity — up to 2.7× their size, ~1 KB per ticket at a million — and copied every
/// one of them each time it grew. Here a slot costs the value's own size, growing allocates one
/// chunk, and a lookup is two array indexes instead of a hash. Numbers below 1 (never handed
/// out by the desk, but an event could carry one) go to a small dictionary beside.
/// Numbers above 2²⁸ too: up to there the chunk list itself stays under 2 MB.
///
/// The command processor keeps a `Dictionary` (`DeskState.tickets`): its tickets are a bounded
/// cache of recently used ones, sparse over the numbers.
struct TicketTable {
    private static let shift = 10
    private static let width = 1 << shift
    /// Nil where no ticket of that range was ever stored (a stray large number allocates one chunk).
    private var chunks: [[TicketState?]?] = []
    private var others: [TicketNumber: TicketState] = [:]
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    private static func slot(_ n: TicketNumber) -> (chunk: Int, index: Int)? {
        guard n >= 1, n <= 1 << 28 else { return nil }
        return ((n - 1) >> shift, (n - 1) & (width - 1))
    }

    /// In place: `table[n]!.field = …` and `table[n]?.apply(…)` change the stored value without
    /// copying it (a copy would share its arrays, and the change would copy those instead).
    subscript(n: TicketNumber) -> TicketState? {
        // Lent, not copied: a copy of a ticket retains each of its ~20 references (the fold reads a
        // ticket several times per event; with a plain `get` that was a tenth of a rebuild).
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
            // The slot itself, not a copy moved out and back (a ticket is 504 bytes).
            let had = chunks[c]![i] != nil
            defer { count += (chunks[c]![i] != nil ? 1 : 0) - (had ? 1 : 0) }
            yield &chunks[c]![i]
        }
    }

    /// The numbers held, ascending.
    var numbers: [TicketNumber] {
        var out: [TicketNumber] = []
        out.reserveCapacity(count)
        out += others.keys.filter { $0 < 1 }.sorted()
        for (c, chunk) in chunks.enumerated() {
            for (i, t) in (chunk ?? []).enumerated() where t != nil { out.append(c << Self.shift + i + 1) }
        }
        out += others.keys.filter { $0 > 1 << 28 }.sorted()
        return out
    }

    /// Every ticket, by ascending number.
    var values: [TicketState] { numbers.compactMap { self[$0] } }

    /// The same as a dictionary (tests compare it with the command processor's state).
    var dictionary: [TicketNumber: TicketState] {
        Dictionary(uniqueKeysWithValues: numbers.compactMap { n in self[n].map { (n, $0) } })
    }
}
