import Foundation
import SupportDesk

/// The desk view's tickets by number, in a `DenseTable` of 16-byte slots; tickets not in use frozen.
///
/// Ticket numbers are handed out one after another, so the view's set of them is dense. A
/// `Dictionary` of `TicketState` (504 bytes inline) kept them in buckets at most 3/4 full with a
/// power-of-two capacity — up to 2.7× their size, ~1 KB per ticket at a million — and copied every
/// one of them each time it grew. Here a slot is 16 bytes, growing allocates one chunk, and a
/// lookup is two array indexes instead of a hash (`DenseTable`, which also takes the numbers the
/// desk never hands out, below 1 or very large, in a small dictionary beside).
///
/// A slot holds a ticket either **live** — a `TicketState` in `live`, changed in place by the
/// fold — or **frozen**: a `FrozenTicket`, a few hundred bytes instead of ~1.3 KB (see
/// `FrozenTicket.swift`). `freeze(_:evenIfOpen:)` freezes a ticket (the view decides which and
/// when: see `DeskView.forgetDirty`); changing a frozen ticket through the subscript thaws it
/// first. Reading a frozen ticket decodes it: all of it through `self[n]`, everything but the
/// thread through `self[withoutThread: n]` (the feed and the reports, which never read comments).
///
/// The command processor keeps a `Dictionary` (`DeskState.tickets`): its tickets are a bounded
/// cache of recently used ones, sparse over the numbers.
struct TicketTable {
    private enum Slot {
        case live(Int32)
        case frozen(FrozenTicket)
    }

    /// Nil where there is no ticket.
    private var slots = DenseTable<Slot>()
    /// Live tickets, by the index their slot holds; freed indexes are reused.
    private var live: [TicketState?] = []
    private var freeLive: [Int32] = []
    /// The notify lists and staff sets frozen tickets refer to.
    private(set) var pools = FrozenPools()
    /// The freezer's reusable buffer.
    private var scratch: [UInt8] = []
    /// How many tickets are frozen, and their bytes (for memory accounting).
    private(set) var frozenCount = 0
    private(set) var frozenBytes = 0

    init() {}

    var count: Int { slots.count }
    var isEmpty: Bool { count == 0 }
    var liveCount: Int { live.count - freeLive.count }

    /// In place: `table[n]!.field = …` and `table[n]?.apply(…)` change the stored value without
    /// copying it (a copy would share its arrays, and the change would copy those instead). A
    /// frozen ticket is thawed by a change and stays live until `freeze(_:)`.
    subscript(n: TicketNumber) -> TicketState? {
        // Lent, not copied: a copy of a ticket retains each of its ~20 references (the fold reads a
        // ticket several times per event; with a plain `get` that was a tenth of a rebuild).
        _read {
            switch slots[n] {
            case nil: yield nil
            case .live(let l): yield live[Int(l)]
            case .frozen(let f): yield TicketState(frozen: f, pools: pools)
            }
        }
        _modify {
            let l = thawSlot(n)
            defer { releaseIfEmpty(l, of: n) }
            // The live value itself, not a copy moved out and back (a ticket is 504 bytes).
            yield &live[Int(l)]
        }
    }

    /// What `body` makes of ticket `n`, which it reads in place (a frozen ticket decoded first); nil
    /// if there is none. The fold's reads go through here: `tickets[n].map(body)` or `if let t =
    /// tickets[n]` copy the ticket out of its slot first, retaining each of its references.
    /// (Mutating though it changes nothing: a table held in a class's stored property is then used
    /// in place, where a non-mutating call copies the table, retaining each of its arrays.)
    mutating func peek<R>(_ n: TicketNumber, _ body: (borrowing TicketState) -> R) -> R? {
        switch slots[n] {
        case nil: return nil
        case .live(let l): return live[Int(l)]?.lend(body)
        case .frozen(let f): return body(TicketState(frozen: f, pools: pools))
        }
    }

    /// Folds a ticket's event into ticket `n` in place (`DeskState.evolve(_:_:at:)`), thawing it if
    /// frozen. The same as `DeskState.evolve(&table[n], …)` but without the subscript's accessor,
    /// whose check for a removed ticket copied the ticket at every event.
    mutating func evolve(_ n: TicketNumber, _ event: DeskEvent, at: Date) {
        let l = thawSlot(n)
        DeskState.evolve(&live[Int(l)], event, at: at)
        releaseIfEmpty(l, of: n)
    }

    /// Puts `ticket` in slot `n` live, as `evolve` does with the event that opens it (made
    /// beforehand: `DeskView.PreparedOpenings`); `ticket` is left with what the slot held.
    mutating func place(_ n: TicketNumber, _ ticket: inout TicketState?) {
        let l = thawSlot(n)
        swap(&live[Int(l)], &ticket)
        releaseIfEmpty(l, of: n)
    }

    /// After a change through live index `l` (ticket `n`'s): if it left no ticket there, the index
    /// is free again and `n` has no slot. Looked at in place (comparing the slot with `nil` copied
    /// the ticket).
    private mutating func releaseIfEmpty(_ l: Int32, of n: TicketNumber) {
        let empty = live.withUnsafeBufferPointer { b in
            if case .none = b[Int(l)] { true } else { false }
        }
        if empty {
            freeLive.append(l)
            slots[n] = nil
        }
    }

    /// Whether ticket `n` is held live (not frozen). (Mutating though it changes nothing, as
    /// `peek`: the desk view asks at every flush for every changed ticket.)
    mutating func isLive(_ n: TicketNumber) -> Bool {
        if case .live = slots[n] { return true }
        return false
    }

    /// Makes ticket `n` live if it is frozen (before a change that reads it several times).
    mutating func thaw(_ n: TicketNumber) {
        if case .frozen = slots[n] { _ = thawSlot(n) }
    }

    /// Ticket `n` without its thread when it is frozen (`comments` then holds only the last comment
    /// that is not internal, what the lists' marker reads), whole when it is live: for readers that
    /// look no further into the thread.
    subscript(withoutThread n: TicketNumber) -> TicketState? {
        _read {
            if case .frozen(let f) = slots[n] {
                yield TicketState(frozen: f, pools: pools, thread: false)
            } else {
                yield self[n]
            }
        }
    }

    /// Ticket `n`'s level, premium flag and complexity (payroll), without decoding a frozen ticket.
    func payrollFacts(_ n: TicketNumber) -> (level: SupportLevel, premium: Bool, complexity: Int?)? {
        if case .frozen(let f) = slots[n] { return TicketState.payrollFacts(of: f) }
        return self[n].map { ($0.level, $0.premium, $0.classification.complexity) }
    }

    /// The index in `live` of ticket `n`'s slot, thawing a frozen ticket or, where there is none,
    /// taking a free index (holding nil; the subscript gives it back if it stays nil).
    private mutating func thawSlot(_ n: TicketNumber) -> Int32 {
        let value: TicketState?
        switch slots[n] {
        case .live(let l): return l
        case nil: value = nil
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
        slots[n] = .live(l)
        return l
    }

    /// Ticket `n` in the frozen format, for its row: its frozen bytes if it is frozen; frozen now if
    /// it is live and no longer open; otherwise encoded (it stays live). Nil if there is none.
    mutating func frozenForm(_ n: TicketNumber) -> FrozenTicket? {
        switch slots[n] {
        case nil: return nil
        case .frozen(let f): return f
        case .live(let l):
            guard let open = live[Int(l)]?.lend({ $0.status.isOpen }) else { return nil }
            if !open, freeze(n), case .frozen(let f) = slots[n] { return f }
            return Self.frozen(&live[Int(l)], pools: &pools, scratch: &scratch)
        }
    }

    /// The ticket in `slot` frozen, read in place (a copy would retain each of its references).
    private static func frozen(_ slot: inout TicketState?, pools: inout FrozenPools, scratch: inout [UInt8]) -> FrozenTicket? {
        slot?.lend { $0.frozen(pools: &pools, scratch: &scratch) }
    }

    /// Freezes ticket `n` if it is live and no longer open (resolved or closed), or open too with
    /// `evenIfOpen`; returns whether it did.
    @discardableResult
    mutating func freeze(_ n: TicketNumber, evenIfOpen: Bool = false) -> Bool {
        guard case .live(let l) = slots[n], let open = live[Int(l)]?.lend({ $0.status.isOpen }), evenIfOpen || !open,
              let f = Self.frozen(&live[Int(l)], pools: &pools, scratch: &scratch) else { return false }
        live[Int(l)] = nil
        freeLive.append(l)
        slots[n] = .frozen(f)
        frozenCount += 1
        frozenBytes += f.byteCount
        return true
    }

    /// The numbers held, ascending.
    var numbers: [TicketNumber] {
        var out: [TicketNumber] = []
        out.reserveCapacity(count)
        slots.forEach { n, _ in out.append(n) }
        return out
    }

    /// Every ticket, by ascending number.
    var values: [TicketState] { numbers.compactMap { self[$0] } }

    /// The same as a dictionary (tests compare it with the command processor's state).
    var dictionary: [TicketNumber: TicketState] {
        Dictionary(uniqueKeysWithValues: numbers.compactMap { n in self[n].map { (n, $0) } })
    }
}

extension TicketState {
    /// `body(self)` — mutating only so that the caller's value (an array's element) is read in
    /// place: Swift lends an `inout` value without copying it, where a plain read of an array's
    /// element copies the ticket out, retaining its ~20 references.
    fileprivate mutating func lend<R>(_ body: (borrowing TicketState) -> R) -> R { body(self) }
}
