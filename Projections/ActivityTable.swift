import Foundation
import SupportDesk

/// Each ticket's last activity (for the Chronicle), 32 bytes per ticket.
///
/// A `[TicketNumber: Activity]` cost ~95 bytes per ticket at 621k tickets (59 MB): 56-byte values
/// in buckets at most 3/4 full, plus the event type and actor strings that do not fit inline
/// (`TicketReassigned`, `contact:…`). Here the values are compact — sequence, time, and the type
/// and actor as indexes into one table of the distinct strings (a few dozen types, one actor per
/// person) — in a `DenseTable` by ticket number. Reading gives back an `Activity` whose strings
/// share the table's storage.
struct ActivityTable: Equatable {
    private struct Compact {
        var sequence: UInt64
        var at: Double
        var type: UInt32
        /// 0: no actor; otherwise the index + 1.
        var actor: UInt32
    }

    private var slots = DenseTable<Compact>()
    private var strings = InternTable<String>()

    init() {}

    var count: Int { slots.count }

    private func activity(_ c: Compact) -> Activity {
        Activity(sequence: c.sequence, at: Date(timeIntervalSinceReferenceDate: c.at), type: strings[c.type],
                 actor: c.actor == 0 ? nil : strings[c.actor - 1])
    }

    subscript(n: TicketNumber) -> Activity? {
        get { slots[n].map(activity) }
        set {
            guard let a = newValue else {
                slots[n] = nil
                return
            }
            slots[n] = Compact(sequence: a.sequence, at: a.at.timeIntervalSinceReferenceDate, type: strings.id(of: a.type),
                               actor: a.actor.map { strings.id(of: $0) + 1 } ?? 0)
        }
    }

    /// Just the sequence of ticket `n`'s last activity (no strings touched).
    func sequence(_ n: TicketNumber) -> UInt64? { slots[n]?.sequence }

    /// Every (ticket, activity), by ascending ticket number.
    func forEach(_ body: (TicketNumber, Activity) throws -> Void) rethrows {
        try slots.forEach { n, c in try body(n, activity(c)) }
    }

    /// The same as a dictionary (tests).
    var dictionary: [TicketNumber: Activity] {
        var d: [TicketNumber: Activity] = [:]
        forEach { d[$0] = $1 }
        return d
    }

    static func == (a: ActivityTable, b: ActivityTable) -> Bool { a.count == b.count && a.dictionary == b.dictionary }
}
