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
        /// The type: `DeskEvent.kindIndex` when below `kinds`, else the index + `kinds` in `strings`.
        var type: UInt32
        /// 0: no actor; otherwise the index + 1.
        var actor: UInt32
    }

    private var slots = DenseTable<Compact>()
    private var strings = InternTable<String>()

    /// The event types by `DeskEvent.kindIndex`, and back.
    private static let kindNames = DeskEvent.payloadTypes.map { $0.type }
    private static let kinds = UInt32(kindNames.count)
    private static let kindByName = Dictionary(uniqueKeysWithValues: kindNames.enumerated().map { ($1, UInt32($0)) })

    init() {}

    var count: Int { slots.count }

    private func activity(_ c: Compact) -> Activity {
        Activity(sequence: c.sequence, at: Date(timeIntervalSinceReferenceDate: c.at),
                 type: c.type < Self.kinds ? Self.kindNames[Int(c.type)] : strings[c.type - Self.kinds],
                 actor: c.actor == 0 ? nil : strings[c.actor - 1])
    }

    private mutating func actorId(_ actor: String?) -> UInt32 { actor.map { strings.id(of: $0) + 1 } ?? 0 }

    subscript(n: TicketNumber) -> Activity? {
        get { slots[n].map(activity) }
        set {
            guard let a = newValue else {
                slots[n] = nil
                return
            }
            let type = Self.kindByName[a.type] ?? strings.id(of: a.type) + Self.kinds
            slots[n] = Compact(sequence: a.sequence, at: a.at.timeIntervalSinceReferenceDate, type: type, actor: actorId(a.actor))
        }
    }

    /// Ticket `n`'s activity is now `event` (the fold): its type from the event's kind, without
    /// looking its name up.
    mutating func set(_ n: TicketNumber, sequence: UInt64, at: Date, event: DeskEvent, actor: String?) {
        slots[n] = Compact(sequence: sequence, at: at.timeIntervalSinceReferenceDate, type: UInt32(event.kindIndex), actor: actorId(actor))
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
