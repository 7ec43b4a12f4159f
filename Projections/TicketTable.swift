import SupportDesk

/// The desk view's tickets by number, in chunks of 1,024 slots; tickets not in use frozen.
///
/// Ticket numbers are handed out one after another, so the view's set of them is dense. A
/// `Dictionary` of `TicketState` (504 bytes inline) kept them in buckets at most 3/4 full with a
/// power-of-two capacity — up to 2.7× their size, ~1 KB per ticket at a million — and copied every
/// one of them each time it grew. Here a slot is 16 bytes, growing allocates one chunk, and a
/// lookup is two array indexes instead of a hash. Numbers below 1 (never handed out by the desk,
/// but an event could carry one) go to a small dictionary beside; numbers above 2²⁸ too: up to
/// there the chunk list itself stays under 2 MB.
///
/// A slot holds a ticket either **live** — a `TicketState` in `live`, changed in place by the
/// fold — or **frozen**: a `FrozenTicket`, a few hundred bytes instead of ~1.3 KB (see
/// `FrozenTicket.swift`). `freeze(_:evenIfOpen:)` freezes a ticket (the view decides which and
/// when: see `DeskView.forgetDirty`); changing a frozen ticket through the subscript thaws it first. Reading a frozen ticket decodes it: all of it through `self[n]`, everything but
/// the thread through `self[withoutThread: n]` (the feed and the reports, which never read comments).
///
/// The command processor keeps a `Dictionary` (`DeskState.tickets`): its tickets are a bounded
/// cache of recently used ones, sparse over the numbers.
struct TicketTable {
    private static let shift = 10
    private static let width = 1 << shift

    private enum Slot {
        case empty
        case live(Int32)
        case frozen(FrozenTicket)
    }

    /// Nil where no ticket of that range was ever stored (a stray large number allocates one chunk).
    private var chunks: [[Slot]?] = []
    /// Live tickets, by the index their slot holds; freed indexes are reused.
    private var live: [TicketState?] = []
    private var freeLive: [Int32] = []
    private var others: [TicketNumber: TicketState] = [:]
    /// The notify lists and staff sets frozen tickets refer to.
    private(set) var pools = FrozenPools()
    /// The freezer's reusable buffer.
    private var scratch: [UInt8] = []
    private(set) var count = 0
    /// How many tickets are frozen, and their bytes (for memory accounting).
    private(set) var frozenCount = 0
    private(set) var frozenBytes = 0

    init() {}

    var isEmpty: Bool { count == 0 }
    var liveCount: Int { live.count - freeLive.count + others.count }

    private static func slot(_ n: TicketNumber) -> (chunk: Int, index: Int)? {
        guard n >= 1, n <= 1 << 28 else { return nil }
        return ((n - 1) >> shift, (n - 1) & (width - 1))
    }

    private func slotValue(_ c: Int, _ i: Int) -> Slot {
        c < chunks.count ? chunks[c]?[i] ?? .empty : .empty
    }

    /// In place: `table[n]!.field = …` and `table[n]?.apply(…)` change the stored value without
    /// copying it (a copy would share its arrays, and the change would copy those instead). A
    /// frozen ticket is thawed by a change and stays live until `freeze(_:)`.
    subscript(n: TicketNumber) -> TicketState? {
        // Lent, not copied: a copy of a ticket retains each of its ~20 references (the fold reads a
        // ticket several times per event; with a plain `get` that was a tenth of a rebuild).
        _read {
            if let (c, i) = Self.slot(n) {
                switch slotValue(c, i) {
                case .empty: yield nil
                case .live(let l): yield live[Int(l)]
                case .frozen(let f): yield TicketState(frozen: f, pools: pools)
                }
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
            if chunks[c] == nil { chunks[c] = Array(repeating: .empty, count: Self.width) }
            // A slot that is not empty holds a ticket (live or frozen): no need to look at the value.
            let had: Bool
            if case .empty = chunks[c]![i] { had = false } else { had = true }
            let l = thawSlot(c, i)
            defer {
                if live[Int(l)] == nil {
                    freeLive.append(l)
                    chunks[c]![i] = .empty
                    if had { count -= 1 }
                } else if !had {
                    count += 1
                }
            }
            // The live value itself, not a copy moved out and back (a ticket is 504 bytes).
            yield &live[Int(l)]
        }
    }

    /// Whether ticket `n` is held live (not frozen).
    func isLive(_ n: TicketNumber) -> Bool {
        guard let (c, i) = Self.slot(n) else { return others[n] != nil }
        if case .live = slotValue(c, i) { return true }
        return false
    }

    /// Makes ticket `n` live if it is frozen (before a change that reads it several times).
    mutating func thaw(_ n: TicketNumber) {
        guard let (c, i) = Self.slot(n), c < chunks.count, chunks[c] != nil, case .frozen = chunks[c]![i] else { return }
        _ = thawSlot(c, i)
    }

    /// Ticket `n` without its thread when it is frozen (`comments` then holds only the last comment
    /// that is not internal, what the lists' marker reads), whole when it is live: for readers that
    /// look no further into the thread.
    subscript(withoutThread n: TicketNumber) -> TicketState? {
        _read {
            if let (c, i) = Self.slot(n), case .frozen(let f) = slotValue(c, i) {
                yield TicketState(frozen: f, pools: pools, thread: false)
            } else {
                yield self[n]
            }
        }
    }

    /// Ticket `n`'s level, premium flag and complexity (payroll), without decoding a frozen ticket.
    func payrollFacts(_ n: TicketNumber) -> (level: SupportLevel, premium: Bool, complexity: Int?)? {
        if let (c, i) = Self.slot(n), case .frozen(let f) = slotValue(c, i) { return TicketState.payrollFacts(of: f) }
        return self[n].map { ($0.level, $0.premium, $0.classification.complexity) }
    }

    /// The index in `live` of slot (c, i), thawing a frozen ticket or taking a free index for an
    /// empty slot (holding nil).
    private mutating func thawSlot(_ c: Int, _ i: Int) -> Int32 {
        let value: TicketState?
        switch chunks[c]![i] {
        case .live(let l): return l
        case .empty: value = nil
        case .frozen(let f):
            value = TicketState(frozen: f, pools: pools)
            frozenCount -= 1
            frozenBytes -= f.byteCount
        }
        let l: Int32
        if let free = freeLive.popLast() {
            l = free
            live[Int(l)] = value
        } else {
            l = Int32(live.count)
            live.append(value)
        }
        chunks[c]![i] = .live(l)
        return l
    }

    /// Ticket `n` in the frozen format, for its row: its frozen bytes if it is frozen; frozen now if
    /// it is live and no longer open; otherwise encoded (it stays live). Nil if there is none, or it
    /// lies outside the chunks (then `self[n]` has it).
    mutating func frozenForm(_ n: TicketNumber) -> FrozenTicket? {
        guard let (c, i) = Self.slot(n), c < chunks.count, chunks[c] != nil else { return nil }
        switch chunks[c]![i] {
        case .empty: return nil
        case .frozen(let f): return f
        case .live(let l):
            guard let t = live[Int(l)] else { return nil }
            if !t.status.isOpen, freeze(n), case .frozen(let f) = chunks[c]![i] { return f }
            return t.frozen(pools: &pools, scratch: &scratch)
        }
    }

    /// Freezes ticket `n` if it is live and no longer open (resolved or closed), or open too with
    /// `evenIfOpen`; returns whether it did.
    @discardableResult
    mutating func freeze(_ n: TicketNumber, evenIfOpen: Bool = false) -> Bool {
        guard let (c, i) = Self.slot(n), c < chunks.count, chunks[c] != nil, case .live(let l) = chunks[c]![i],
              let t = live[Int(l)], evenIfOpen || !t.status.isOpen else { return false }
        let f = t.frozen(pools: &pools, scratch: &scratch)
        live[Int(l)] = nil
        freeLive.append(l)
        chunks[c]![i] = .frozen(f)
        frozenCount += 1
        frozenBytes += f.byteCount
        return true
    }

    /// The numbers held, ascending.
    var numbers: [TicketNumber] {
        var out: [TicketNumber] = []
        out.reserveCapacity(count)
        out += others.keys.filter { $0 < 1 }.sorted()
        for (c, chunk) in chunks.enumerated() {
            for (i, s) in (chunk ?? []).enumerated() {
                if case .empty = s { continue }
                out.append(c << Self.shift + i + 1)
            }
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
