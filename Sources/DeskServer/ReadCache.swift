import Foundation
import Projections
import SupportDesk
import Synchronization

/// Rendered JSON of the two reads staff make most — Chronicle pages and ticket details — kept while
/// what they were made from still holds, so that a page asked for again (every open Chronicle polls)
/// is not walked and encoded again.
///
/// - A Chronicle page is kept per caller and query, with the view's `generation` it was made at
///   and its `freshUntil`: any change to the view (a folded batch, a reset) or time passing an item's
///   due time makes it stale, and it is made again. A command's own answer comes after its events
///   are folded, so the caller's next read is never served from before its command.
/// - A ticket's own JSON (the `ticket` member of a detail, nearly all of its bytes) is kept by
///   number, `version` and the view's `epoch`: a ticket's state changes only by events of its own
///   stream, each of which moves its version. The rest of a detail (names, breaches, activity) is
///   written fresh each time.
///
/// Both are bounded (pages: 4,096 and 32 MB; tickets: 64 MB); past a bound the cache starts over. Nothing here is
/// persisted; a restart starts empty.
final class ReadCache: Sendable {
    /// Who asked what: a page is kept per caller and query.
    struct PageKey: Hashable {
        var staff: StaffId
        var filter: FeedFilter
        var limit: Int
        var before: UInt64?
    }

    struct Page {
        var generation: UInt64
        var freshUntil: Date?
        var bytes: [UInt8]
    }

    struct TicketJSON {
        var version: UInt64
        var epoch: UInt64
        var bytes: [UInt8]
    }

    struct Limits {
        var pages = 4_096
        var pageBytes = 32 << 20
        var ticketBytes = 64 << 20
        /// Off: every read is made afresh (`ServerOptions.readCache`; benchmarks compare both).
        var enabled = true
    }

    let limits: Limits
    private let pages = Mutex<(entries: [PageKey: Page], bytes: Int)>(([:], 0))
    private let tickets = Mutex<(entries: [TicketNumber: TicketJSON], bytes: Int)>(([:], 0))

    init(limits: Limits = Limits()) { self.limits = limits }

    // MARK: Chronicle pages

    /// The page kept for `key`, when it still holds at `generation` and `now`.
    func page(_ key: PageKey, generation: UInt64, now: Date) -> [UInt8]? {
        guard limits.enabled else { return nil }
        return pages.withLock { p in
            guard let e = p.entries[key], e.generation == generation, e.freshUntil.map({ now <= $0 }) ?? true else { return nil }
            return e.bytes
        }
    }

    func keep(_ key: PageKey, _ page: Page) {
        guard limits.enabled else { return }
        pages.withLock { p in
            if let old = p.entries[key] { p.bytes -= old.bytes.count }
            if p.entries[key] == nil && p.entries.count >= limits.pages || p.bytes + page.bytes.count > limits.pageBytes {
                p.entries.removeAll(keepingCapacity: true)
                p.bytes = 0
            }
            p.entries[key] = page
            p.bytes += page.bytes.count
        }
    }

    // MARK: Ticket JSON

    /// `ticket`'s JSON (`encodeJSON(ticket)`), rendered once per version and epoch.
    func json(of ticket: TicketState, epoch: UInt64) throws -> [UInt8] {
        guard limits.enabled else { return try encodeJSON(ticket) }
        let n = ticket.number, version = ticket.version
        if let hit = tickets.withLock({ t -> [UInt8]? in
            guard let e = t.entries[n], e.version == version, e.epoch == epoch else { return nil }
            return e.bytes
        }) {
            return hit
        }
        let bytes = try encodeJSON(ticket)
        tickets.withLock { t in
            // Keep the newer rendering when two readers raced (a stale one never replaces it).
            if let old = t.entries[n] {
                if (old.epoch, old.version) > (epoch, version) { return }
                t.bytes -= old.bytes.count
            }
            if t.bytes + bytes.count > limits.ticketBytes {
                t.entries.removeAll(keepingCapacity: true)
                t.bytes = 0
            }
            t.entries[n] = TicketJSON(version: version, epoch: epoch, bytes: bytes)
            t.bytes += bytes.count
        }
        return bytes
    }

    /// Tickets and bytes held (for tests and metrics).
    var ticketCount: (entries: Int, bytes: Int) { tickets.withLock { ($0.entries.count, $0.bytes) } }
    var pageCount: Int { pages.withLock { $0.entries.count } }
    var pageBytes: Int { pages.withLock { $0.bytes } }
}
