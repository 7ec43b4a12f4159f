import BusinessTime
import EventLog
import Foundation
import SupportDesk

/// The last thing that happened on a ticket (for the staff feed).
public struct Activity: Sendable, Hashable, Codable {
    public var sequence: UInt64
    public var at: Date
    public var type: String
    public var actor: String?
}

/// One evaluated answer (R22), for payroll.
public struct EvaluationEntry: Sendable, Hashable, Codable {
    public var sequence: UInt64
    public var ticket: TicketNumber
    public var staff: StaffId
    public var evaluation: AnswerEvaluation
    /// When the ticket was closed with it (the formula in force then applies).
    public var at: Date
}

/// Logged working time (R15), for payroll.
public struct TimeEntry: Sendable, Hashable, Codable {
    public var sequence: UInt64
    public var ticket: TicketNumber
    public var staff: StaffId
    public var minutes: Int
    public var on: LocalDate
}

/// The desk as every reader needs it: all tickets (with their threads, notify sets, SLA and
/// evaluations), contacts, organisations and configuration, plus the feed order and payroll entries.
/// The client view, staff feed, ticket detail, payroll, SLA and load reports are queries over it
/// (see `DeskQueries`).
///
/// Persisted as rows in `proj.desk` (a ticket, contact or organisation per row, the account, and one
/// row per payroll entry), written with the checkpoint: tickets in the positional format of frozen
/// tickets (`TicketRow`), the rest in CompactCoding. In memory most tickets are frozen (`TicketTable`).
/// `releaseParts` (benchmarks) says what each part holds.
public final class DeskView: Projection, @unchecked Sendable {
    public let name = "desk"
    // 4: contact rows keep every organisation the contact belonged to; 5: ticket rows positional;
    // 6: ticket rows made from the frozen bytes; 7: evaluation and time rows positional
    public let codeVersion = 7
    public var databases: [String] { [Self.db] }
    static let db = "proj.desk"

    let lock = NSLock()
    /// Moves whenever what the queries see changes (each folded batch, a reset, a load): an answer
    /// made at one generation is still the answer while the generation is the same.
    public var generation: UInt64 { lock.withLock { changes } }
    /// Moves at each reset: a ticket's `version` names its state only within one epoch (a rebuild by
    /// newer code may fold the same events differently).
    public var epoch: UInt64 { lock.withLock { resets } }
    /// `generation` and `epoch` as seen with the lock held (inside `read`).
    var changes: UInt64 = 0
    var resets: UInt64 = 0
    /// Everything but the tickets, which are in `tickets` (`state.tickets` stays empty).
    var state = DeskState()
    var tickets = TicketTable()
    var activity = ActivityTable()
    /// Append-only (sequence, ticket) in activity order; entries older than a ticket's current
    /// activity are stale and skipped (compacted when they are half of it).
    var feed: [(UInt64, TicketNumber)] = []
    var byContact: [ContactId: [TicketNumber]] = [:]
    var byOrganisation: [OrganisationId: [TicketNumber]] = [:]
    var evaluations: [EvaluationEntry] = []
    var timeEntries: [TimeEntry] = []
    var visibilityHistory: [(at: Date, settings: VisibilitySettings)] = []
    var portalHistory: [ContactId: [(at: Date, granted: Bool)]] = [:]
    /// Open tickets (not spam, not merged away), kept by the fold so that the queues do not scan
    /// every ticket ever opened.
    var openFacts: [TicketNumber: OpenFacts] = [:]
    var openNumbers: Dictionary<TicketNumber, OpenFacts>.Keys { openFacts.keys }
    /// Per staff member, the tickets they are responsible for or co-execute: the Chronicle's "mine".
    var assigned: [StaffId: TicketSet] = [:]
    /// Everyone who ever belonged to each organisation (who could ever see its tickets with sharing on).
    var everMembers: [OrganisationId: Set<ContactId>] = [:]
    var everOrganisations: [ContactId: Set<OrganisationId>] = [:]
    /// Contact → the contacts merged straight into it (a client's list also holds theirs).
    var absorbed: [ContactId: [ContactId]] = [:]
    /// Tickets by what the Chronicle filters on (status, type, criticality, level), so that a rare
    /// value (status "resolved", level 3) is found from its few tickets, not by walking the feed.
    var byStatus = FacetIndex<TicketStatus>()
    var byType = FacetIndex<TicketType>()
    var byCriticality = FacetIndex<Criticality>()
    var byLevel = FacetIndex<SupportLevel>()
    /// Live contacts' names and addresses, lower-cased, for the contacts search.
    var contactSearch = ContactSearchIndex()
    /// Tickets in the order they were opened, and whether their opening times are in that order too
    /// (they are unless the clock stepped back): reports over a period then look at that period's
    /// tickets only (`TimeWindow`), instead of every ticket ever opened.
    var openedOrder: [TicketNumber] = []
    var openedInOrder = true
    /// When the last ticket in `openedOrder` was opened.
    var lastOpenedAt: Date?
    /// Whether `evaluations` are in time order (the same reasoning).
    var evaluationsInOrder = true

    // Rows changed since the last flush.
    /// (A bitmap: inserting at every event costs no hashing, and a flush takes the rows in ticket
    /// order, which LMDB appends near each other.)
    var dirtyTickets = TicketSet()
    /// Open tickets left live at a flush (`forgetDirty`), with the flush that last saw them changed.
    var keptLive: [TicketNumber: UInt64] = [:]
    var flushes: UInt64 = 0
    /// How many open tickets may stay live without change; past it the longest unchanged are frozen.
    var liveBudget = 16_384
    var dirtyContacts = Set<ContactId>()
    var dirtyOrganisations = Set<OrganisationId>()
    var dirtyAccount = false
    var newEvaluations = 0
    var newTimeEntries = 0
    var flushedEvaluations = 0
    var flushedTimeEntries = 0

    public init() {}

    public func reset() {
        lock.withLock {
            changes &+= 1
            resets &+= 1
            state = DeskState()
            tickets = TicketTable()
            activity = ActivityTable()
            feed = []
            byContact = [:]
            byOrganisation = [:]
            evaluations = []
            timeEntries = []
            visibilityHistory = []
            portalHistory = [:]
            openFacts = [:]
            assigned = [:]
            everMembers = [:]
            everOrganisations = [:]
            absorbed = [:]
            contactSearch = ContactSearchIndex()
            byStatus = FacetIndex()
            byType = FacetIndex()
            byCriticality = FacetIndex()
            byLevel = FacetIndex()
            openedOrder = []
            openedInOrder = true
            lastOpenedAt = nil
            evaluationsInOrder = true
            dirtyTickets = []
            keptLive = [:]
            dirtyContacts = []
            dirtyOrganisations = []
            dirtyAccount = false
            flushedEvaluations = 0
            flushedTimeEntries = 0
        }
    }

    /// The whole desk state, tickets included (for tests and tools that compare it with the command
    /// processor's; queries read `state` and `tickets` in place). Called with the lock held.
    var fullState: DeskState {
        var s = state
        s.tickets = tickets.dictionary
        return s
    }

    /// How the view holds its tickets: all, frozen (and their bytes), live (for benchmarks).
    public var ticketFigures: (tickets: Int, frozen: Int, frozenBytes: Int, live: Int) {
        lock.withLock { (tickets.count, tickets.frozenCount, tickets.frozenBytes, tickets.liveCount) }
    }

    /// Where the view's memory goes, for `helpdesk-bench memory`: drops its parts one after another
    /// and reports what `allocated()` (the allocator's count of bytes in use) fell by with each.
    /// Leaves the view empty; call `reset()` or `load` before using it again.
    public func releaseParts(measuring allocated: () -> Int) -> [(part: String, bytes: Int)] {
        lock.withLock {
            var out: [(String, Int)] = []
            var last = allocated()
            func dropped(_ part: String, _ drop: () -> Void) {
                drop()
                let now = allocated()
                out.append((part, last - now))
                last = now
            }
            dropped("activity (last activity per ticket)") { activity = ActivityTable() }
            dropped("feed (activity order)") { feed = [] }
            dropped("facet indexes (status, type, criticality, level)") { byStatus = FacetIndex(); byType = FacetIndex(); byCriticality = FacetIndex(); byLevel = FacetIndex() }
            dropped("assigned (mine)") { assigned = [:] }
            dropped("tickets by contact and organisation") { byContact = [:]; byOrganisation = [:] }
            dropped("open tickets' facts, opening order") { openFacts = [:]; openedOrder = [] }
            dropped("evaluations") { evaluations = [] }
            dropped("time entries") { timeEntries = [] }
            dropped("contact search") { contactSearch = ContactSearchIndex() }
            dropped("contacts, organisations, account") { state = DeskState(); everMembers = [:]; everOrganisations = [:]; absorbed = [:]; portalHistory = [:] }
            let figures = (tickets.liveCount, tickets.frozenCount, tickets.frozenBytes)
            dropped("tickets: \(figures.0) live, \(figures.1) frozen (\(figures.2 / max(figures.1, 1)) bytes each), pools, slots") { tickets = TicketTable() }
            return out
        }
    }

    /// Runs `body` with the state locked (queries).
    public func read<T>(_ body: (DeskView) throws -> T) rethrows -> T {
        try lock.withLock { try body(self) }
    }

    public func apply(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>) {
        lock.withLock {
            var none: TicketState?
            batch.lendEach { event, record in fold(&event, &record, opened: &none) }
            changes &+= 1
        }
    }

    /// What the tickets a batch opens are made of, made on the thread that read it (it needs
    /// nothing but the events): each one's participant set, shared by the tickets opened with the
    /// same staff, and its first comment's notify list, taken from the batch's `NotifyListCache`
    /// so that the answers' lists, decoded through it, are the same arrays (the pools find those
    /// by address). The fold makes the ticket with them (`TicketState(opening:at:participants:notify:)`).
    final class PreparedOpenings: @unchecked Sendable {
        /// Batch indexes of the `TicketOpened` events, ascending, and what they open with.
        let indexes: [Int]
        let participants: [Set<StaffId>]
        let notify: [[Party]]

        init(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>, lists: NotifyListCache) {
            var indexes: [Int] = [], participants: [Set<StaffId>] = [], notify: [[Party]] = []
            var i = batch.startIndex
            batch.lendEach { event, _ in
                if case .ticketOpened(let e) = event {
                    indexes.append(i)
                    participants.append(lists.participantSet(e.participants))
                    notify.append(lists.canonical(TicketState.openingNotify(e)))
                }
                i += 1
            }
            self.indexes = indexes
            self.participants = participants
            self.notify = notify
        }

        /// The position in `indexes` of the first at or after batch index `i`.
        func first(atOrAfter i: Int) -> Int {
            var (lo, hi) = (0, indexes.count)
            while lo < hi {
                let mid = (lo + hi) / 2
                if indexes[mid] < i { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }

    public func prepare(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>, lists: NotifyListCache?) -> (any Sendable)? {
        lists.map { PreparedOpenings(batch, lists: $0) }
    }

    public func apply(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>, prepared: (any Sendable)?) {
        guard let openings = prepared as? PreparedOpenings else { return apply(batch) }
        lock.withLock {
            var i = batch.startIndex
            // The first opening in this slice.
            var k = openings.first(atOrAfter: i)
            batch.lendEach { event, record in
                var opened: TicketState?
                if k < openings.indexes.count, openings.indexes[k] == i, case .ticketOpened(let e) = event {
                    opened = TicketState(opening: e, at: record.timestamp, participants: openings.participants[k], notify: openings.notify[k])
                    k += 1
                }
                fold(&event, &record, opened: &opened)
                i += 1
            }
            changes &+= 1
        }
    }

    /// Folds one event. `inout` only to read them in place (`lendEach`): changes neither. `opened`,
    /// when not nil, is the ticket a `TicketOpened` event opens, made beforehand (`prepare`): put
    /// in place instead of made here.
    func fold(_ event: inout DeskEvent, _ record: inout RecordedEvent, opened: inout TicketState?) {
        let at = record.timestamp
        // A frozen ticket is decoded once, not at each read below.
        let ticket = event.ticket  // (a switch over every kind of event: asked once)
        if let n = ticket { tickets.thaw(n) }
        // Only these events change who is responsible or co-executes (TicketState.apply); the
        // others skip building the before / after sets.
        let reassigns = switch event {
        case .ticketOpened, .ticketAccepted, .ticketReassigned, .participantAdded, .participantRemoved, .ticketEscalated: true
        default: false
        }
        let assignedBefore = reassigns ? ticket.flatMap { tickets.peek($0, Self.assignees) } ?? [] : []
        // Only these events change what the facets hold — status, classification, level — in
        // `TicketState.apply` (opening makes them); comments, the most frequent, do not. (The test of
        // the Chronicle's filters checks the indexes against walking every ticket.)
        let refacets = switch event {
        case .ticketOpened, .ticketAccepted, .ticketReassigned, .statusChanged, .ticketClassified, .levelChanged: true
        default: false
        }
        let facetsBefore = refacets ? ticket.flatMap { tickets.peek($0, Facets.init) } : nil
        // Only these change what `OpenFacts` holds besides the activity (`TicketState.apply`: status,
        // responsible, spam, merged; the first answer ends the reaction due time; the rest is set
        // at opening). The view followed live, rebuilt and loaded (which indexes every ticket) are
        // compared by a test.
        let refacts = switch event {
        case .ticketOpened, .ticketAccepted, .ticketReassigned, .statusChanged, .markedAsSpam, .ticketMerged: true
        case .commentAdded: ticket.flatMap { tickets.peek($0) { $0.firstResponseAt == nil } } ?? false
        default: false
        }
        if let n = ticket {
            // As `DeskState.evolve`, on the view's own table, in place.
            if opened != nil { tickets.place(n, &opened) } else { tickets.evolve(n, event, at: at) }
            state.noteTicketNumber(of: event)
        } else {
            state.evolve(event, at: at)
        }
        switch event {
        case .ticketOpened(let e):
            noteOpened(e.ticket)
            byContact[e.contact, default: []].append(e.ticket)
            if let org = e.organisation { byOrganisation[org, default: []].append(e.ticket) }
        case .answerEvaluated(let e):
            // (Its time only: `evaluations.last` would copy the entry, strings and all.)
            if !evaluations.isEmpty, at < evaluations[evaluations.count - 1].at { evaluationsInOrder = false }
            evaluations.append(EvaluationEntry(sequence: record.sequence, ticket: e.ticket, staff: e.staff, evaluation: e.evaluation, at: at))
        case .timeLogged(let e):
            timeEntries.append(TimeEntry(sequence: record.sequence, ticket: e.ticket, staff: e.staff, minutes: e.minutes, on: e.on))
        case .visibilitySet(let e):
            visibilityHistory.append((at, e.settings))
        case .portalAccessChanged(let e):
            portalHistory[e.contact, default: []].append((at, e.granted))
        case .contactCreated(let e):
            if let org = e.organisation { noteMember(e.contact, of: org) }
        case .contactChanged(let e):
            if let org = e.organisation, !org.isEmpty { noteMember(e.contact, of: org) }
        case .contactMerged(let e):
            absorbed[e.into, default: []].append(e.contact)
        default: break
        }
        if let n = ticket {
            switch event {
            case .deliveryRecorded, .mailReceived:
                break  // the mail sender's and intake's records are not activity for the Chronicle
            default:
                // (The record's type is the event's: `DeskEvent.payloadTypes[event.kindIndex].type`.)
                activity.set(n, sequence: record.sequence, at: at, event: event, actor: record.metadata.actor)
                feed.append((record.sequence, n))
                // Its activity only, when nothing else in its open facts can have changed.
                if !refacts { openFacts[n]?.activity = record.sequence }
            }
            dirtyTickets.insert(n)
            if refacts { indexOpen(n) }
            if refacets { noteFacets(n, from: facetsBefore, to: tickets.peek(n, Facets.init)) }
            let assignedNow = reassigns ? tickets.peek(n, Self.assignees) ?? [] : []
            if reassigns, assignedNow != assignedBefore {
                for s in assignedBefore.subtracting(assignedNow) { assigned[s]?.remove(n) }
                for s in assignedNow.subtracting(assignedBefore) { assigned[s, default: []].insert(n) }
            }
        }
        // A ticket event's stream is its ticket's: none of the rows below.
        switch ticket == nil ? event.stream : "" {
        case Streams.account: dirtyAccount = true
        case let s where s.hasPrefix("org-"): dirtyOrganisations.insert(String(s.dropFirst(4)))
        case let s where s.hasPrefix("contact-"):
            let id = String(s.dropFirst(8))
            dirtyContacts.insert(id)
            switch event {
            case .contactCreated, .contactChanged, .contactEmailAttached, .contactMerged, .contactAbsorbed:
                contactSearch.set(id, state.contacts[id].flatMap(ContactSearchIndex.text))
            default: break
            }
        default: break
        }
        if feed.count > 1024, feed.count > 2 * activity.count { compactFeed() }
    }

    func noteMember(_ contact: ContactId, of org: OrganisationId) {
        everMembers[org, default: []].insert(contact)
        everOrganisations[contact, default: []].insert(org)
    }

    /// What the Chronicle's facet indexes hold of a ticket.
    struct Facets: Equatable {
        var status: TicketStatus
        var type: TicketType?
        var criticality: Criticality?
        var level: SupportLevel
        init(_ t: TicketState) {
            status = t.status
            type = t.classification.type
            criticality = t.classification.criticality
            level = t.level
        }
    }

    func noteFacets(_ n: TicketNumber, from a: Facets?, to b: Facets?) {
        guard a != b else { return }
        func move<K: FacetKey>(_ index: inout FacetIndex<K>, _ old: K?, _ new: K?) {
            guard old != new else { return }
            if let old { index[old].remove(n) }
            if let new { index[new].insert(n) }
        }
        move(&byStatus, a?.status, b?.status)
        move(&byType, a?.type, b?.type)
        move(&byCriticality, a?.criticality, b?.criticality)
        move(&byLevel, a?.level, b?.level)
    }

    static func assignees(_ t: TicketState) -> Set<StaffId> {
        var s = t.coExecutors
        if let r = t.responsible { s.insert(r) }
        return s
    }

    /// What the queues need of an open ticket, small and flat: one pass over these answers the
    /// queues page without touching the tickets themselves.
    struct OpenFacts: Hashable {
        var premium: Bool
        var unaccepted: Bool
        var status: TicketStatus
        /// Overdue once the clock is past this (the reaction due time while unanswered, or the
        /// resolution due time, whichever comes first).
        var overdueAfter: Date?
        /// Position of the status in alphabetical order of the raw values (the queues' status sort).
        var statusRank: UInt8
        /// The ticket's last activity (its sequence): kept here, not looked up, for the queues and
        /// the unaccepted scan, which read it for every open ticket.
        var activity: UInt64

        func overdue(_ now: Date) -> Bool { overdueAfter.map { now > $0 } ?? false }

        /// The status's position in alphabetical order of the raw values, without hashing (the
        /// fold asks at every event); a test checks it against that order.
        static func rank(of s: TicketStatus) -> UInt8 {
            switch s {
            case .accepted: 0
            case .closed: 1
            case .new: 2
            case .postponed: 3
            case .reopened: 4
            case .resolved: 5
            case .waitingForClient: 6
            }
        }
    }

    func noteOpened(_ n: TicketNumber) {
        let opened = tickets.peek(n) { $0.openedAt }
        if let a = lastOpenedAt, let b = opened, b < a { openedInOrder = false }
        lastOpenedAt = opened
        openedOrder.append(n)
    }

    /// Sets ticket `n`'s open facts from the ticket as it is now. (Only after the events that can
    /// change more than their activity: `fold`'s `refacts`.)
    func indexOpen(_ n: TicketNumber) {
        let activity = activity.sequence(n) ?? 0
        let facts = tickets.peek(n) { (t: borrowing TicketState) -> OpenFacts? in
            guard t.status.isOpen, !t.spam, t.mergedInto == nil else { return nil }
            return OpenFacts(premium: t.premium, unaccepted: t.responsible == nil, status: t.status, overdueAfter: Self.overdueAfter(t),
                             statusRank: OpenFacts.rank(of: t.status), activity: activity)
        }
        openFacts[n] = facts ?? nil
    }

    func compactFeed() {
        // In place: `filter` made a new array each time, in fresh pages the kernel had to clear.
        feed.removeAll { activity.sequence($0.1) != $0.0 }
    }

    // MARK: Persistence

    /// A ticket's row: the ticket's frozen bytes with the staff sets and notify lists they refer to
    /// written out (`TicketState.writeRow(_:lists:into:)`), and its last activity. Positional, not
    /// keyed: a keyed row spent most of its ~1.8 KB on field names and its encoding was a sixth of
    /// a rebuild; made from the frozen bytes, a row costs the writer no ticket copy and no encoding.
    /// Rows are a cache of the log: a change to `TicketState` or to the frozen format bumps
    /// `codeVersion`, which rebuilds them at start.
    struct TicketRow {
        var ticket: TicketState
        var activity: Activity?

        static let format: UInt8 = 0xF2

        /// The row of a frozen ticket (what the writer does). `memo`: for the rows of one snapshot.
        static func write(_ frozen: FrozenTicket, lists: FrozenPools.Snapshot, memo: inout RowListMemo, activity: Activity?,
                          into w: inout PositionalWriter) {
            w.byte(format)
            TicketState.writeRow(frozen, lists: lists, memo: &memo, into: &w)
            writeActivity(activity, into: &w)
        }

        /// The row of a ticket not in a table (tests).
        static func write(_ ticket: TicketState, activity: Activity?, into w: inout PositionalWriter) {
            var pools = FrozenPools(), scratch: [UInt8] = [], memo = RowListMemo()
            let frozen = ticket.frozen(pools: &pools, scratch: &scratch)
            write(frozen, lists: pools.snapshot, memo: &memo, activity: activity, into: &w)
        }

        static func writeActivity(_ activity: Activity?, into w: inout PositionalWriter) {
            if let a = activity {
                w.byte(a.actor == nil ? 1 : 2)
                w.uint(a.sequence)
                w.date(a.at)
                w.string(a.type)
                if let actor = a.actor { w.string(actor) }
            } else {
                w.byte(0)
            }
        }

        init(ticket: TicketState, activity: Activity?) {
            self.ticket = ticket
            self.activity = activity
        }

        init(_ bytes: UnsafeRawBufferPointer) throws {
            var r = PositionalReader(bytes)
            guard try r.byte() == Self.format else { throw CorruptPositional(at: 0) }
            ticket = try TicketState(row: &r)
            switch try r.byte() {
            case 0: activity = nil
            case let kind where kind <= 2:
                activity = Activity(sequence: try r.uint(), at: try r.date(), type: try r.string(), actor: kind == 2 ? try r.string() : nil)
            default: throw CorruptPositional(at: r.at - 1)
            }
            guard r.isAtEnd else { throw CorruptPositional(at: r.at) }
        }
    }

    struct AccountRow: Codable {
        var account: AccountState
        var lastTicketNumber: TicketNumber
        var visibility: [VisibilityChange]
    }

    struct VisibilityChange: Codable {
        var at: Date
        var settings: VisibilitySettings
    }

    struct ContactRow: Codable {
        var contact: ContactState
        var portal: [PortalChange]
        /// Every organisation the contact ever belonged to (audits of those organisations' tickets).
        var organisations: [OrganisationId]?
    }

    struct PortalChange: Codable {
        var at: Date
        var granted: Bool
    }

    enum Kind: UInt8 { case account = 0x61, contact = 0x63, evaluation = 0x65, organisation = 0x6F, ticket = 0x74, time = 0x77 }

    static func key(_ kind: Kind, _ rest: [UInt8]) -> [UInt8] { [kind.rawValue] + rest }
    static func be(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    /// The rows changed since the last flush, as they are now (values, so they can be written later).
    struct Rows: Sendable {
        /// Changed tickets in the frozen format, with the pools' lists they refer to.
        var tickets: [(TicketNumber, FrozenTicket, Activity?)] = []
        var lists: FrozenPools.Snapshot?
        var contacts: [(ContactId, ContactRow)] = []
        var organisations: [OrganisationState] = []
        var account: AccountRow?
        // Arrays of their own, not slices: a slice would keep the view's whole array shared, and the
        // next fold's append would copy all of it.
        var evaluations: [EvaluationEntry] = []
        var timeEntries: [TimeEntry] = []

        func write(into w: any LogWriter) throws {
            var bytes = PositionalWriter()
            var memo = RowListMemo()  // (the rows share one snapshot, `lists`)
            for (i, (n, frozen, activity)) in tickets.enumerated() {
                // (A number below 1 — never handed out, but an event could carry one — keys by its bits.)
                try w.put(DeskView.key(.ticket, DeskView.be(UInt64(bitPattern: Int64(n)))), in: DeskView.db, buffer: &bytes) {
                    TicketRow.write(frozen, lists: lists!, memo: &memo, activity: activity, into: &$0)
                }
                // Each row replaced reads the old one's pages through the map: a rebuild's batch
                // rewrites tens of thousands, which need not stay resident.
                if i % 1024 == 1023 { w.releaseReadPages() }
            }
            for (id, row) in contacts {
                try w.put(DeskView.key(.contact, Array(id.utf8)), try CompactCoding.encode(row), in: DeskView.db)
            }
            for o in organisations {
                try w.put(DeskView.key(.organisation, Array(o.id.utf8)), try CompactCoding.encode(o), in: DeskView.db)
            }
            if let account {
                try w.put(DeskView.key(.account, []), try CompactCoding.encode(account), in: DeskView.db)
            }
            for e in evaluations {
                try w.put(DeskView.key(.evaluation, DeskView.be(e.sequence)), in: DeskView.db, buffer: &bytes, row: e.writeRow)
            }
            for e in timeEntries {
                try w.put(DeskView.key(.time, DeskView.be(e.sequence)), in: DeskView.db, buffer: &bytes, row: e.writeRow)
            }
        }
    }

    /// The dirty rows (called with the lock held). Tickets no longer open are frozen here.
    func dirtyRows() -> Rows {
        var rows = Rows()
        rows.tickets.reserveCapacity(dirtyTickets.count)
        for n in dirtyTickets {
            if let f = tickets.frozenForm(n) { rows.tickets.append((n, f, activity[n])) }
        }
        if !rows.tickets.isEmpty { rows.lists = tickets.pools.snapshot }
        rows.contacts = dirtyContacts.compactMap { id in
            state.contacts[id].map { c in
                (id, ContactRow(contact: c, portal: (portalHistory[id] ?? []).map { PortalChange(at: $0.at, granted: $0.granted) },
                                organisations: (everOrganisations[id] ?? []).sorted()))
            }
        }
        rows.organisations = dirtyOrganisations.compactMap { state.organisations[$0] }
        if dirtyAccount || !dirtyTickets.isEmpty {
            rows.account = AccountRow(account: state.account, lastTicketNumber: state.lastTicketNumber,
                                      visibility: visibilityHistory.map { VisibilityChange(at: $0.at, settings: $0.settings) })
        }
        rows.evaluations = Array(evaluations[flushedEvaluations...])
        rows.timeEntries = Array(timeEntries[flushedTimeEntries...])
        return rows
    }

    public func flush(into w: any LogWriter) throws {
        try lock.withLock { try dirtyRows() }.write(into: w)
    }

    public func takeFlush() -> (@Sendable (any LogWriter) throws -> Void)? {
        let rows = lock.withLock {
            let rows = dirtyRows()
            forgetDirty()
            return rows
        }
        return { w in try rows.write(into: w) }
    }

    public var pendingRows: Int { lock.withLock { dirtyTickets.count + dirtyContacts.count } }

    public func didFlush() {
        lock.withLock { forgetDirty() }
    }

    /// Called with the lock held, once the dirty rows are made. Tickets are frozen (`TicketTable`)
    /// until a change thaws them: at once when they are no longer open; when they are open, once
    /// more than `liveBudget` open tickets are live, the half changed longest ago (a ticket being
    /// worked on is changed again and again; most open tickets wait for days).
    func forgetDirty() {
        flushes &+= 1
        for n in dirtyTickets {
            // Those no longer open were frozen by `dirtyRows`, which every flush runs first.
            if tickets.isLive(n) { keptLive[n] = flushes } else { keptLive[n] = nil }
        }
        if keptLive.count > liveBudget {
            // The half changed longest ago.
            let cut = keptLive.values.sorted()[keptLive.count / 2]
            for (n, seen) in keptLive where seen <= cut {
                tickets.freeze(n, evenIfOpen: true)
                keptLive[n] = nil
            }
        }
        dirtyTickets = []
        dirtyContacts = []
        dirtyOrganisations = []
        dirtyAccount = false
        flushedEvaluations = evaluations.count
        flushedTimeEntries = timeEntries.count
    }

    public func load(from r: any LogReader) throws {
        reset()
        try lock.withLock {
            try r.scan(Self.db, from: []) { k, v in
                guard let kind = k.first.flatMap(Kind.init(rawValue:)) else { return true }
                switch kind {
                case .ticket:
                    let row = try TicketRow(v)
                    let t = row.ticket
                    tickets[t.number] = t
                    activity[t.number] = row.activity
                    indexOpen(t.number)
                    noteFacets(t.number, from: nil, to: Facets(t))
                    for s in Self.assignees(t) { assigned[s, default: []].insert(t.number) }
                    byContact[t.contact, default: []].append(t.number)
                    if let org = t.organisation { byOrganisation[org, default: []].append(t.number) }
                    tickets.freeze(t.number, evenIfOpen: true)
                case .contact:
                    let row = try CompactCoding.decode(ContactRow.self, from: v)
                    state.contacts[row.contact.id] = row.contact
                    portalHistory[row.contact.id] = row.portal.map { ($0.at, $0.granted) }
                    for org in row.organisations ?? (row.contact.organisation.map { [$0] } ?? []) { noteMember(row.contact.id, of: org) }
                    for m in row.contact.emails { state.contactByEmail[normalisedEmail(m)] = row.contact.id }
                    for p in row.contact.phones { state.contactByPhone[normalisedPhone(p)] = row.contact.id }
                case .organisation:
                    let o = try CompactCoding.decode(OrganisationState.self, from: v)
                    state.organisations[o.id] = o
                case .account:
                    let row = try CompactCoding.decode(AccountRow.self, from: v)
                    state.account = row.account
                    state.lastTicketNumber = row.lastTicketNumber
                    visibilityHistory = row.visibility.map { ($0.at, $0.settings) }
                case .evaluation:
                    evaluations.append(try EvaluationEntry(row: v))
                case .time:
                    timeEntries.append(try TimeEntry(row: v))
                }
                return true
            }
            for c in state.contacts.values.sorted(by: { $0.id < $1.id }) {
                contactSearch.set(c.id, ContactSearchIndex.text(of: c))
                if let into = c.mergedInto { absorbed[into, default: []].append(c.id) }
            }
            // Merged contacts' addresses point at the survivor, as the live fold leaves them.
            for c in state.contacts.values where c.mergedInto != nil {
                let survivor = state.survivor(of: c.id)
                for m in c.emails { state.contactByEmail[normalisedEmail(m)] = survivor }
                for p in c.phones { state.contactByPhone[normalisedPhone(p)] = survivor }
            }
            feed = []
            feed.reserveCapacity(activity.count)
            activity.forEach { n, a in feed.append((a.sequence, n)) }
            feed.sort { $0.0 < $1.0 }
            // Numbers are given out in opening order.
            for n in tickets.numbers { noteOpened(n) }
            evaluations.sort { $0.sequence < $1.sequence }
            evaluationsInOrder = zip(evaluations, evaluations.dropFirst()).allSatisfy { $0.at <= $1.at }
            for k in byContact.keys { byContact[k]!.sort() }
            for k in byOrganisation.keys { byOrganisation[k]!.sort() }
            flushedEvaluations = evaluations.count
            flushedTimeEntries = timeEntries.count
            changes &+= 1
        }
    }
}
