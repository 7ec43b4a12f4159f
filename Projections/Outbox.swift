import EventLog
import Foundation
import HeapModule
import SupportDesk

/// The outbox: every comment addressed to a client, once per notified contact, until it is delivered.
/// A fold over `CommentAdded` (staff, not internal: one entry per contact in its notify set) and
/// `DeliveryRecorded` (queued = an attempt started, delivered = gone, failed = retry after a backoff
/// counted from the failure's time in the log, parked = given up, with the reason kept for staff).
///
/// Because the outbox is rebuilt from the log, and an attempt is recorded (`queued`) before the sender
/// hands a message to sendmail, a message is never sent twice: after a crash between the two, the
/// entry is `sending`, and the sender parks it for a person to check rather than send it again.
public final class Outbox: Projection, @unchecked Sendable {
    public let name = "outbox"
    // 2: rows positional (`PositionalRows.swift`)
    public let codeVersion = 2
    public var databases: [String] { [Self.db] }
    static let db = "proj.outbox"

    public enum Status: String, Sendable, Codable, Hashable, CaseIterable {
        case pending, sending, failed, parked
    }

    public struct Entry: Sendable, Codable, Hashable {
        public var ticket: TicketNumber
        public var comment: CommentNumber
        /// The contact as named in the notify set.
        public var contact: ContactId
        /// The comment's time.
        public var createdAt: Date
        public var status: Status
        /// Attempts started.
        public var attempts: Int
        public var nextAttemptAt: Date
        public var lastError: String?
        public var key: String { id.text }
        var id: Key { Key(ticket: ticket, comment: comment, contact: contact) }
        /// Still to be tried: pending, or failed and waiting for its backoff.
        var isWaiting: Bool { status == .pending || status == .failed }
    }

    /// Backoff after the k-th failure: `retryBase × 2^(k-1)`, at most `retryCap`.
    public let retryBase: TimeInterval
    public let retryCap: TimeInterval

    /// An entry's identity: its ticket, comment and contact (`Entry.key` as text, the row's key).
    struct Key: Hashable {
        var ticket: TicketNumber
        var comment: CommentNumber
        var contact: ContactId
        var text: String { "\(ticket)/\(comment)/\(contact)" }
    }

    let lock = NSLock()
    /// The entries by ticket (a few per ticket: one per notified contact of each answer not yet
    /// delivered). Ticket numbers are dense; a dictionary by entry key held a 5M-event history's
    /// 844k waiting entries in 2M buckets, 260 MB with their key strings.
    var entries = DenseTable<[Entry]>()
    var entryCount = 0
    /// The entries still to be tried (pending or failed) by when they are next due (a min-heap),
    /// so that a poll costs the entries it returns, not a scan of every entry: parked history and a
    /// backlog waiting for its backoff cost an idle desk nothing. Lazy: an element whose entry has
    /// since changed (sent, parked, failed again with a new time) is dropped when it reaches the top.
    /// Nil until a query needs it (`scheduled`): a rebuild or a load does not build it on the way.
    var schedule: Heap<Due>?

    struct Due: Comparable {
        var at: Date
        var ticket: TicketNumber
        var comment: CommentNumber
        var contact: ContactId
        var id: Key { Key(ticket: ticket, comment: comment, contact: contact) }
        var key: String { id.text }
        static func < (a: Due, b: Due) -> Bool { (a.at, a.ticket, a.comment, a.contact) < (b.at, b.ticket, b.comment, b.contact) }
    }
    /// Tickets whose entries changed since the last flush (all of a ticket's entries are written
    /// then), and the entries removed since (deleted). A bitmap: the fold marks a ticket per answer
    /// without hashing entry keys.
    var dirtyTickets = TicketSet()
    var removed: [Key] = []
    /// Entries delivered, counted for metrics.
    public private(set) var deliveredCount = 0

    public init(retryBase: TimeInterval = 60, retryCap: TimeInterval = 3600) {
        self.retryBase = retryBase
        self.retryCap = retryCap
    }

    public func reset() {
        lock.withLock {
            entries = DenseTable()
            entryCount = 0
            schedule = nil
            forgetDirty()
            deliveredCount = 0
        }
    }

    public func apply(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>) {
        lock.withLock {
            batch.lendEach { event, record in fold(&event, at: record.timestamp) }
        }
    }

    /// Folds one event. `inout` only to read it in place (`lendEach`): changes nothing in it.
    func fold(_ event: inout DeskEvent, at: Date) {
        switch event {
        case .commentAdded(let c):
            guard !c.isInternal, c.author.staffId != nil else { return }
            for case .contact(let id) in c.notify {
                let e = Entry(ticket: c.ticket, comment: c.comment, contact: id, createdAt: at, status: .pending,
                              attempts: 0, nextAttemptAt: at, lastError: nil)
                put(e)
                dirtyTickets.insert(e.ticket)
            }
        case .deliveryRecorded(let d):
            guard case .contact(let id) = d.recipient else { return }
            let key = Key(ticket: d.ticket, comment: d.comment, contact: id)
            guard var e = entry(key) else { return }
            switch d.status {
            case .queued:
                e.status = .sending
                e.attempts += 1
            case .delivered:
                remove(key)
                removed.append(key)
                deliveredCount += 1
                return
            case .failed:
                e.status = .failed
                e.lastError = d.detail
                let delay = min(retryCap, retryBase * pow(2, Double(max(0, e.attempts - 1))))
                e.nextAttemptAt = at.addingTimeInterval(delay)
            case .parked:
                e.status = .parked
                e.lastError = d.detail
            }
            put(e)
            dirtyTickets.insert(key.ticket)
        default:
            return
        }
    }

    /// Where the entry for `key` is in its ticket's list (called with the lock held).
    func index(of key: Key) -> Int? {
        entries[key.ticket]?.firstIndex { $0.comment == key.comment && $0.contact == key.contact }
    }

    /// The entry for `key` (called with the lock held).
    func entry(_ key: Key) -> Entry? {
        index(of: key).map { entries[key.ticket]![$0] }
    }

    /// Stores an entry and, when it waits, schedules it (called with the lock held).
    func put(_ e: Entry) {
        if let i = index(of: e.id) {
            entries[e.ticket]![i] = e
        } else {
            if entries[e.ticket] == nil { entries[e.ticket] = [e] } else { entries[e.ticket]!.append(e) }
            entryCount += 1
        }
        if e.isWaiting { schedule?.insert(Due(at: e.nextAttemptAt, ticket: e.ticket, comment: e.comment, contact: e.contact)) }
    }

    func remove(_ key: Key) {
        guard let i = index(of: key) else { return }
        entries[key.ticket]!.remove(at: i)
        if entries[key.ticket]!.isEmpty { entries[key.ticket] = nil }
        entryCount -= 1
    }

    /// Every entry, in no particular order (called with the lock held).
    func allEntries() -> [Entry] {
        var out: [Entry] = []
        out.reserveCapacity(entryCount)
        entries.forEach { _, list in out += list }
        return out
    }

    /// `body` on the schedule, held uniquely while it changes (called with the lock held).
    func withSchedule<R>(_ body: (inout Heap<Due>) -> R) -> R {
        var s = scheduled()
        schedule = nil
        defer { schedule = s }
        return body(&s)
    }

    /// The schedule, built from the waiting entries when it is not there yet (called with the lock held).
    func scheduled() -> Heap<Due> {
        if let schedule { return schedule }
        let built = Heap(allEntries().filter(\.isWaiting).map { Due(at: $0.nextAttemptAt, ticket: $0.ticket, comment: $0.comment, contact: $0.contact) })
        schedule = built
        return built
    }

    /// What changed as it is now: the entries removed, and every entry of the tickets changed
    /// (called with the lock held).
    func dirtyRows() -> (removed: [Key], entries: [Entry]) {
        var changed: [Entry] = []
        for n in dirtyTickets { if let list = entries[n] { changed += list } }
        return (removed, changed)
    }

    func forgetDirty() {
        dirtyTickets = []
        removed = []
    }

    /// Deletes first: an entry removed and made again since the last flush is then stored.
    static func write(_ rows: (removed: [Key], entries: [Entry]), into w: any LogWriter) throws {
        for key in rows.removed { try w.delete(Array(key.text.utf8), in: db) }
        var bytes = PositionalWriter()
        for entry in rows.entries {
            try w.put(Array(entry.key.utf8), in: db, buffer: &bytes, row: entry.writeRow)
        }
    }

    public func flush(into w: any LogWriter) throws {
        try Self.write(lock.withLock { dirtyRows() }, into: w)
    }

    public func didFlush() { lock.withLock { forgetDirty() } }

    public func takeFlush() -> (@Sendable (any LogWriter) throws -> Void)? {
        let rows = lock.withLock {
            defer { forgetDirty() }
            return dirtyRows()
        }
        return { w in try Self.write(rows, into: w) }
    }

    public func load(from r: any LogReader) throws {
        var loaded: [Entry] = []
        try r.scan(Self.db, from: []) { _, v in
            loaded.append(try Entry(row: v))
            return true
        }
        lock.withLock {
            entries = DenseTable()
            entryCount = 0
            schedule = nil
            for e in loaded { put(e) }
            forgetDirty()
        }
    }

    // MARK: Queries

    /// Entries to try now: pending, or failed with their backoff over; oldest first, at most `limit`.
    /// Takes them off the top of the schedule (dropping stale elements on the way) and puts them back.
    public func due(at now: Date, limit: Int = 100) -> [Entry] {
        lock.withLock {
            withSchedule { schedule in
                var found: [Entry] = [], taken: [Due] = []
                while found.count < limit, let top = schedule.min, top.at <= now {
                    schedule.removeMin()
                    guard let e = current(top), !found.contains(where: { $0.key == e.key }) else { continue }
                    found.append(e)
                    taken.append(top)
                }
                schedule.insert(contentsOf: taken)
                return found
            }
        }
    }

    /// Keys of the entries the schedule still holds for their current time (tests).
    var scheduledKeys: Set<String> { lock.withLock { Set(scheduled().unordered.filter { current($0) != nil }.map(\.key)) } }

    /// The entry a schedule element stands for, if it still waits for that time.
    func current(_ d: Due) -> Entry? {
        guard let e = entry(d.id), e.isWaiting, e.nextAttemptAt == d.at else { return nil }
        return e
    }

    /// Every entry with a given status (e.g. `parked` for staff, `sending` after a restart).
    public func entries(_ status: Status) -> [Entry] {
        lock.withLock { allEntries().filter { $0.status == status }.sorted { ($0.ticket, $0.comment, $0.contact) < ($1.ticket, $1.comment, $1.contact) } }
    }

    /// Every entry not yet delivered.
    public var all: [Entry] {
        lock.withLock { allEntries().sorted { ($0.ticket, $0.comment, $0.contact) < ($1.ticket, $1.comment, $1.contact) } }
    }

    /// The earliest time anything becomes due (nil when nothing waits).
    public var nextDue: Date? {
        lock.withLock {
            withSchedule { schedule in
                while let top = schedule.min {
                    if current(top) != nil { return top.at }
                    schedule.removeMin()
                }
                return nil
            }
        }
    }
}
