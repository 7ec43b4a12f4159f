import BusinessTime
import Foundation
import PayrollFormula
import SupportDesk

// Read models as queries over `DeskView` (each takes the view's lock for its duration).

/// How a ticket looks in lists (R14 markers).
public enum ListMarker: String, Sendable, Hashable, Codable {
    case answered, unanswered, postponed, closed
}

public struct ClientComment: Sendable, Hashable, Codable {
    public var number: CommentNumber
    /// "staff" with the member's name, or the contact's name.
    public var authorName: String
    public var fromStaff: Bool
    public var text: String
    public var attachments: [AttachmentRef]
    public var at: Date
}

public struct ClientTicket: Sendable, Hashable, Codable {
    public var number: TicketNumber
    public var subject: String
    public var status: TicketStatus
    public var marker: ListMarker
    public var openedAt: Date
    public var updatedAt: Date
    public var contactName: String
    /// Only the comments this contact may see.
    public var comments: [ClientComment]
}

/// A page of the Chronicle and how long it stays true: until the view's `generation` moves (any
/// change), or — as time alone turns an item overdue — until just after `freshUntil`.
public struct FeedPage: Sendable, Hashable {
    public var items: [FeedItem]
    public var generation: UInt64
    /// The page holds while `now <= freshUntil` (nil: no item turns overdue by time alone).
    public var freshUntil: Date?
}

public struct FeedItem: Sendable, Hashable, Codable {
    public var number: TicketNumber
    public var subject: String
    public var status: TicketStatus
    public var marker: ListMarker
    public var premium: Bool
    public var unaccepted: Bool
    public var overdue: Bool
    public var responsible: StaffId?
    public var level: SupportLevel
    public var type: TicketType?
    public var criticality: Criticality?
    public var activity: Activity
}

/// One queue: how many open tickets it holds and the first rows.
public struct Queue: Sendable, Hashable {
    public var name: String
    public var count = 0
    public var rows: [FeedItem] = []
}

public enum QueueSort: String, Sendable, CaseIterable {
    case number, activity, status
}

public struct FeedFilter: Sendable, Hashable, Codable {
    public var mine = false
    public var unaccepted = false
    public var status: TicketStatus?
    public var type: TicketType?
    public var criticality: Criticality?
    public var level: SupportLevel?
    public var responsible: StaffId?
    /// Premium tickets first (the priority queue, R20) instead of pure recency.
    public var premiumFirst = false
    public init() {}
}

public struct TicketDetail: Sendable, Hashable, Codable {
    public var ticket: TicketState
    public var contactName: String
    public var organisationName: String?
    public var tierName: String?
    public var activity: Activity?
    public var reactionBreached: Bool
    public var resolutionBreached: Bool
}

extension DeskView {
    // MARK: Visibility (R12, R26)

    /// Whether `contact` may see `comment` of `ticket` under `settings`.
    public static func contactMaySee(_ contact: ContactId, comment c: CommentState, ticket t: TicketState,
                                     settings: VisibilitySettings, state: DeskState) -> Bool {
        guard !c.isInternal else { return false }
        guard state.contactReaches(contact, t) else { return false }
        if !settings.onlyNotified { return true }
        let me = state.survivor(of: contact)
        if let a = c.author.contactId, state.survivor(of: a) == me { return true }
        return c.notify.contains { $0.contactId.map { state.survivor(of: $0) == me } ?? false }
    }

    static func marker(_ t: TicketState) -> ListMarker {
        switch t.status {
        case .closed, .resolved: return .closed
        case .postponed: return .postponed
        default:
            let last = t.comments.last { !$0.isInternal }
            return last?.author.staffId != nil ? .answered : .unanswered
        }
    }

    func authorName(_ p: Party) -> String {
        switch p {
        case .staff(let id): state.account.staff[id]?.name ?? id
        case .contact(let id): state.contacts[state.survivor(of: id)]?.name ?? id
        case .system(let s): s
        }
    }

    func clientTicket(_ t: TicketState, for contact: ContactId) -> ClientTicket {
        let settings = state.account.visibility
        let visible = t.comments.filter { Self.contactMaySee(contact, comment: $0, ticket: t, settings: settings, state: state) }
        return ClientTicket(number: t.number, subject: t.subject, status: t.status, marker: Self.marker(t), openedAt: t.openedAt,
                            updatedAt: visible.last?.at ?? t.openedAt, contactName: authorName(.contact(t.contact)),
                            comments: visible.map { ClientComment(number: $0.number, authorName: authorName($0.author),
                                                                  fromStaff: $0.author.staffId != nil, text: $0.text,
                                                                  attachments: $0.attachments, at: $0.at) })
    }

    /// The contact and every contact merged into it, directly or through others.
    func withAbsorbed(_ contact: ContactId) -> [ContactId] {
        var out = [contact], i = 0
        var seen: Set<ContactId> = [contact]
        while i < out.count {
            for c in absorbed[out[i]] ?? [] where seen.insert(c).inserted { out.append(c) }
            i += 1
        }
        return out
    }

    /// The lists (each in ticket-number order) holding `contact`'s tickets: their own, those of
    /// contacts merged into them, and their organisation's when sharing is on. A ticket may be in
    /// more than one.
    func ticketLists(_ contact: ContactId) -> [[TicketNumber]] {
        let me = state.survivor(of: contact)
        var lists = withAbsorbed(me).compactMap { byContact[$0] }
        if state.account.visibility.organisationSharing, let org = state.contacts[me]?.organisation, let l = byOrganisation[org] {
            lists.append(l)
        }
        return lists
    }

    /// Tickets of contacts merged into `contact`, and `contact`'s own.
    func ticketsOf(_ contact: ContactId) -> [TicketNumber] {
        Array(Set(ticketLists(contact).joined()))
    }

    /// The newest tickets of `lists` (each ascending) that pass `keep`, at most `limit`, newest
    /// first: a merge from the lists' ends that stops when the page is full.
    static func newestFirst(_ lists: [[TicketNumber]], limit: Int, keep: (TicketNumber) -> Bool) -> [TicketNumber] {
        var ends = lists.map(\.count)
        var out: [TicketNumber] = []
        var last: TicketNumber?
        while out.count < limit {
            var best = -1
            for i in lists.indices where ends[i] > 0 {
                if best < 0 || lists[i][ends[i] - 1] > lists[best][ends[best] - 1] { best = i }
            }
            guard best >= 0 else { break }
            let n = lists[best][ends[best] - 1]
            ends[best] -= 1
            if n == last { continue }  // in more than one list
            last = n
            if keep(n) { out.append(n) }
        }
        return out
    }

    // MARK: Client view

    /// The client's tickets (their organisation's when sharing is on), newest first, each with only
    /// the comments the client may see. Spam and merged-away tickets are left out.
    public func clientTickets(contact: ContactId, limit: Int = 100) -> [ClientTicket] {
        read { v in
            guard v.state.contacts[contact] != nil else { return [] }
            if v.openedInOrder {
                // Numbers follow opening times: newest first is highest number first.
                return Self.newestFirst(v.ticketLists(contact), limit: limit) { n in
                    guard let t = v.tickets[n] else { return false }
                    return !t.spam && t.mergedInto == nil && v.state.contactReaches(contact, t)
                }.compactMap { v.tickets[$0].map { v.clientTicket($0, for: contact) } }
            }
            return v.ticketsOf(contact).compactMap { v.tickets[$0] }
                .filter { !$0.spam && $0.mergedInto == nil && v.state.contactReaches(contact, $0) }
                .sorted { ($0.openedAt, $0.number) > ($1.openedAt, $1.number) }
                .prefix(limit)
                .map { v.clientTicket($0, for: contact) }
        }
    }

    /// One ticket as the client sees it; nil when the client may not reach it (callers answer 404).
    public func clientTicket(contact: ContactId, number: TicketNumber) -> ClientTicket? {
        read { v in
            guard v.state.contacts[contact] != nil, let t = v.tickets[number], !t.spam,
                  v.state.contactReaches(contact, t) else { return nil }
            return v.clientTicket(t, for: contact)
        }
    }

    // MARK: Staff

    /// The Chronicle (R7, R8): tickets the member takes part in, most recent activity first.
    ///
    /// Without a selective filter it walks the feed from the newest activity and stops when the page
    /// is full. "Mine", "responsible", "unaccepted" and an open status could match only a few tickets
    /// deep in a long history, so those start from an index (the member's assigned tickets, the open
    /// tickets) and pick the newest matches, without walking the whole feed.
    public func staffFeed(staff: StaffId, filter: FeedFilter = FeedFilter(), now: Date, limit: Int = 50,
                          before: UInt64? = nil) -> [FeedItem] {
        staffFeed(staff: staff, filter: filter, now: now, limit: limit, before: before, sparse: 8).items
    }

    /// The same page, with what a cache of it needs to know (`FeedPage`).
    public func staffFeedPage(staff: StaffId, filter: FeedFilter = FeedFilter(), now: Date, limit: Int = 50,
                              before: UInt64? = nil) -> FeedPage {
        staffFeed(staff: staff, filter: filter, now: now, limit: limit, before: before, sparse: 8)
    }

    /// An index is used when it is smaller than the feed divided by `sparse` (0: never, always walk;
    /// 1: nearly always — the tests compare both ways).
    func staffFeed(staff: StaffId, filter: FeedFilter, now: Date, limit: Int, before: UInt64?, sparse: Int) -> FeedPage {
        read { v in
            var freshUntil: Date?
            func matches(_ t: TicketState) -> Bool {
                guard !t.spam, t.mergedInto == nil, t.involves(staff) else { return false }
                if filter.mine, t.responsible != staff, !t.coExecutors.contains(staff) { return false }
                if filter.unaccepted, t.responsible != nil || !t.status.isOpen { return false }
                if let s = filter.status, t.status != s { return false }
                if let s = filter.type, t.classification.type != s { return false }
                if let s = filter.criticality, t.classification.criticality != s { return false }
                if let s = filter.level, t.level != s { return false }
                if let s = filter.responsible, t.responsible != s { return false }
                return true
            }
            func item(_ n: TicketNumber, _ t: TicketState, _ act: Activity) -> FeedItem {
                if let turn = Self.overdueTurn(t, after: now) { freshUntil = min(freshUntil ?? turn, turn) }
                return FeedItem(number: n, subject: t.subject, status: t.status, marker: Self.marker(t), premium: t.premium,
                         unaccepted: t.responsible == nil && t.status.isOpen, overdue: Self.overdue(t, now: now),
                         responsible: t.responsible, level: t.level, type: t.classification.type,
                         criticality: t.classification.criticality, activity: act)
            }
            // A selective filter starts from its smallest index when that is much smaller than the
            // feed (a dense one finds its page near the top of the feed anyway): the candidates'
            // latest activity, newest first, then the same checks as the walk.
            /// An open ticket "unaccepted" may show, by its small facts.
            func unacceptedCandidate(_ f: OpenFacts) -> Bool {
                f.unaccepted && (filter.status.map { $0 == f.status } ?? true) && (before.map { f.activity < $0 } ?? true)
            }
            var order: [(UInt64, TicketNumber)]?
            var cutOff = false, unacceptedCandidates = false
            if sparse > 0 {
                var smallest: TicketSet?
                func consider(_ s: TicketSet?) { if smallest.map({ ($0.count) > (s?.count ?? 0) }) ?? true { smallest = s ?? [] } }
                if let who = filter.mine ? staff : filter.responsible { consider(v.assigned[who]) }
                if filter.mine, let r = filter.responsible { consider(v.assigned[r]) }
                if let s = filter.status { consider(v.byStatus[s]) }
                if let s = filter.type { consider(v.byType[s]) }
                if let s = filter.criticality { consider(v.byCriticality[s]) }
                if let s = filter.level { consider(v.byLevel[s]) }
                if filter.unaccepted, smallest.map({ $0.count > v.openFacts.count }) ?? true {
                    // Open tickets' small facts are cheap to scan whatever their number; only the
                    // newest few candidates are kept (all of them again if those do not fill the page).
                    var top = TopK(max(limit, 1) * 4)
                    for (n, f) in v.openFacts where unacceptedCandidate(f) {
                        top.offer(f.activity, n)
                        if top.offered > top.limit { cutOff = true }
                    }
                    order = top.newestFirstPairs
                    unacceptedCandidates = true
                } else if let set = smallest, sparse == 1 || Self.indexIsCheaper(set.count, feed: v.feed.count, limit: limit, sparse: sparse) {
                    order = set.compactMap { n in v.activity.sequence(n).map { ($0, n) } }
                }
                if !unacceptedCandidates {
                    if let before { order?.removeAll { $0.0 >= before } }
                    order?.sort { $0.0 > $1.0 }
                }
            }
            // Before copying a ticket out of the view, what the open tickets' small facts already
            // tell: a ticket with an open status is among them (unless spam or merged, which never
            // match), so a filter on a closed status skips every open ticket, and the reverse.
            func quickReject(_ n: TicketNumber) -> Bool {
                guard filter.unaccepted || filter.status != nil else { return false }
                let f = v.openFacts[n]
                if filter.unaccepted, f?.unaccepted != true { return true }
                if let s = filter.status { return s.isOpen ? f?.status != s : f != nil }
                return false
            }
            func walk(_ order: [(UInt64, TicketNumber)]?) -> (out: [FeedItem], premium: [FeedItem], full: Bool) {
                var out: [FeedItem] = []
                var premium: [FeedItem] = []
                let count = order?.count ?? v.feed.count
                var i = 0
                func wantsMore() -> Bool { out.count + premium.count < limit || (filter.premiumFirst && premium.count < limit) }
                while i < count, wantsMore() {
                    let (seq, n) = order?[i] ?? v.feed[count - 1 - i]
                    i += 1
                    if let before, seq >= before { continue }
                    guard v.activity.sequence(n) == seq, !quickReject(n), let t = v.tickets[withoutThread: n], matches(t), let act = v.activity[n] else { continue }
                    if filter.premiumFirst, t.premium { premium.append(item(n, t, act)) } else { out.append(item(n, t, act)) }
                }
                return (out, premium, !wantsMore())
            }
            var (out, premium, full) = walk(order)
            if cutOff, !full {
                // The newest candidates did not fill the page: every candidate, in order.
                let all = v.openFacts.compactMap { n, f in unacceptedCandidate(f) ? (f.activity, n) : nil }.sorted { $0.0 > $1.0 }
                (out, premium, full) = walk(all)
            }
            return FeedPage(items: Array((premium + out).prefix(limit)), generation: v.changes, freshUntil: freshUntil)
        }
    }

    /// Whether a page is found faster from an index of `set` tickets (each looked up, then sorted)
    /// than by walking the feed of `feed` entries, where a page needs about `limit × feed / set`
    /// entries. A dense index ("mine" of one of five staff: 200,000 of 1,000,000 tickets) walks.
    static func indexIsCheaper(_ set: Int, feed: Int, limit: Int, sparse: Int) -> Bool {
        guard sparse > 0 else { return false }
        return set <= feed / sparse && set * set <= feed * max(limit, 1)
    }

    /// Open tickets (not spam, not merged away) as list rows, newest first.
    public func openTickets(now: Date, limit: Int = 2000) -> [FeedItem] {
        read { v in v.openNumbers.sorted(by: >).prefix(limit).compactMap { v.openItem($0, now: now) } }
    }

    /// The queues (R20): premium, normal, unaccepted and overdue open tickets, each with how many
    /// there are and its first `rows` in the chosen order. One pass over the open tickets' small
    /// facts (`OpenFacts`), keeping each queue's first rows by a sort key; no sort of the whole set.
    public func queues(now: Date, sort: QueueSort = .number, rows: Int = 200) -> [Queue] {
        read { v in
            var queues = [Queue(name: "Premium"), Queue(name: "Normal"), Queue(name: "Unaccepted"), Queue(name: "Overdue")]
            var tops = Array(repeating: TopK(rows), count: 4)
            for (n, f) in v.openFacts {
                // Larger keys come first: newest number; latest activity; status A→Z, then newest.
                let key: UInt64 = switch sort {
                case .number: UInt64(n)
                case .activity: f.activity
                case .status: UInt64(255 - f.statusRank) << 48 | UInt64(n)
                }
                if f.premium { queues[0].count += 1; tops[0].offer(key, n) } else { queues[1].count += 1; tops[1].offer(key, n) }
                if f.unaccepted { queues[2].count += 1; tops[2].offer(key, n) }
                if f.overdue(now) { queues[3].count += 1; tops[3].offer(key, n) }
            }
            for i in queues.indices { queues[i].rows = tops[i].newestFirst.compactMap { v.openItem($0, now: now) } }
            return queues
        }
    }

    /// Contacts by name (any part), e-mail, phone or ticket number (`#123` or `123`: its client), live ones only.
    /// Exact finds (ticket, address, phone) come first, then name and address matches by id; the
    /// latter are one byte search over the fold's `ContactSearchIndex`.
    public func searchContacts(_ query: String, limit: Int = 50) -> [ContactState] {
        read { v in
            let q = query.lowercased().filter { !$0.isWhitespace || $0 == " " }
            guard !q.isEmpty else { return [] }
            var found: [ContactId] = []
            if let n = Int(q.hasPrefix("#") ? String(q.dropFirst()) : q), let t = v.tickets[n] {
                found.append(v.state.survivor(of: t.contact))
            }
            if let id = v.state.contactByEmail[normalisedEmail(q)] { found.append(v.state.survivor(of: id)) }
            let phone = normalisedPhone(q)
            if phone.filter(\.isNumber).count >= 3, let id = v.state.contactByPhone[phone] { found.append(v.state.survivor(of: id)) }
            found += v.contactSearch.search(ContactSearchIndex.fold(q), limit: limit).ids
            var seen = Set<ContactId>()
            return found.filter { seen.insert($0).inserted }.compactMap { v.state.contacts[$0] }.filter { $0.mergedInto == nil }
                .prefix(limit).map { $0 }
        }
    }

    public var organisations: [OrganisationState] { read { $0.state.organisations.values.sorted { $0.id < $1.id } } }

    /// An open ticket as a list row (called with the state locked).
    func openItem(_ n: TicketNumber, now: Date) -> FeedItem? {
        guard let t = tickets[withoutThread: n] else { return nil }
        return FeedItem(number: n, subject: t.subject, status: t.status, marker: Self.marker(t), premium: t.premium,
                        unaccepted: t.responsible == nil, overdue: Self.overdue(t, now: now), responsible: t.responsible,
                        level: t.level, type: t.classification.type, criticality: t.classification.criticality,
                        activity: activity[n] ?? Activity(sequence: 0, at: t.openedAt, type: "TicketOpened", actor: nil))
    }

    /// The due times that can make `t` overdue: reaction until the first answer to the client, and
    /// resolution; none once it is no longer open.
    static func dueTimes(_ t: TicketState) -> [Date] {
        guard t.status.isOpen else { return [] }
        return [t.firstResponseAt == nil ? t.reactionDue : nil, t.resolutionDue].compactMap { $0 }
    }

    /// The earliest of `dueTimes(t)`, without building the array (the fold asks at every event).
    static func overdueAfter(_ t: TicketState) -> Date? {
        guard t.status.isOpen else { return nil }
        let reaction = t.firstResponseAt == nil ? t.reactionDue : nil
        switch (reaction, t.resolutionDue) {
        case let (a?, b?): return min(a, b)
        case let (a, b): return a ?? b
        }
    }

    /// The last instant at which `overdue(t, now:)` still gives what it gives at `now`, when it
    /// will change by time alone (nil: it will not): the earliest due time not yet passed.
    static func overdueTurn(_ t: TicketState, after now: Date) -> Date? {
        dueTimes(t).filter { $0 >= now }.min()
    }

    static func overdue(_ t: TicketState, now: Date) -> Bool {
        dueTimes(t).contains { now > $0 }
    }

    /// The streams an audit of ticket `n` must read (`Audit.Scope`): its organisation, and every
    /// contact who could ever have reached it — its client, whoever was notified or wrote on it,
    /// everyone who ever belonged to its organisation — and the contacts those were merged into.
    public func auditScope(_ n: TicketNumber) -> Audit.Scope? {
        read { v in
            guard let t = v.tickets[n] else { return nil }
            let orgs = Set(t.organisation.map { [$0] } ?? [])
            var contacts: Set<ContactId> = [t.contact]
            for c in t.comments {
                for p in c.notify { if let id = p.contactId { contacts.insert(id) } }
                if let id = c.author.contactId { contacts.insert(id) }
            }
            for o in orgs { contacts.formUnion(v.everMembers[o] ?? []) }
            var queue = Array(contacts)
            while let c = queue.popLast() {
                if let m = v.state.contacts[c]?.mergedInto, contacts.insert(m).inserted { queue.append(m) }
            }
            return Audit.Scope(contacts: contacts, organisations: orgs)
        }
    }

    /// Everything staff see about a ticket; nil when it does not exist.
    public func ticketDetail(_ number: TicketNumber, now: Date) -> TicketDetail? {
        read { v in v.detail(number, now: now) }
    }

    /// The detail and the view's `epoch` it was read in (a ticket's rendering is known by its
    /// number, version and epoch).
    public func ticketDetailInEpoch(_ number: TicketNumber, now: Date) -> (detail: TicketDetail, epoch: UInt64)? {
        read { v in v.detail(number, now: now).map { ($0, v.resets) } }
    }

    /// Called with the lock held.
    func detail(_ number: TicketNumber, now: Date) -> TicketDetail? {
        guard let t = tickets[number] else { return nil }
        let reactionBreached = t.reactionDue.map { (t.firstResponseAt ?? now) > $0 } ?? false
        let resolutionBreached = t.resolutionDue.map { (t.resolvedAt ?? t.closedAt ?? now) > $0 } ?? false
        return TicketDetail(ticket: t, contactName: authorName(.contact(t.contact)),
                            organisationName: t.organisation.flatMap { state.organisations[$0]?.name },
                            tierName: t.tierId.flatMap { state.account.tiers[$0]?.name }, activity: activity[number],
                            reactionBreached: reactionBreached, resolutionBreached: resolutionBreached)
    }

    public var lastTicketNumber: TicketNumber { read { $0.state.lastTicketNumber } }
    public var contactIds: [ContactId] { read { $0.state.contacts.keys.sorted() } }

    /// Who a token (by its SHA-256) belongs to, and their staff role (nil for a client), if it is
    /// live: staff must be active, contacts must have portal access and not be merged away.
    public func principal(forTokenHash hash: String) -> (party: Party, role: Role?)? {
        read { v in
            guard let grant = v.state.account.tokens[hash] else { return nil }
            switch grant.party {
            case .staff(let id):
                guard let m = v.state.account.staff[id], m.active else { return nil }
                return (grant.party, m.role)
            case .contact(let id):
                guard let c = v.state.contacts[id], c.portalAccess, c.mergedInto == nil else { return nil }
                return (grant.party, nil)
            case .system(let name):
                // Only the mail gateway holds a system token (it may post mail and nothing else).
                return name == "mail" ? (grant.party, nil) : nil
            }
        }
    }
    public var account: AccountState { read { $0.state.account } }
    public func contact(_ id: ContactId) -> ContactState? { read { $0.state.contacts[id] } }
}

/// The tickets with the `limit` largest keys offered (an activity sequence, or a sort key), kept
/// sorted: O(log limit) per offer once full, so picking a page from a large index never sorts it.
struct TopK {
    let limit: Int
    private var kept: [(UInt64, TicketNumber)] = []  // ascending
    /// How many were offered.
    private(set) var offered = 0

    init(_ limit: Int) { self.limit = limit }

    mutating func offer(_ sequence: UInt64, _ n: TicketNumber) {
        // Keys are unique per ticket here (activity sequences; sort keys that include the number).
        offered += 1
        guard limit > 0 else { return }
        if kept.count == limit, let low = kept.first, sequence <= low.0 { return }
        var a = 0, b = kept.count
        while a < b {
            let m = (a + b) / 2
            if kept[m].0 < sequence { a = m + 1 } else { b = m }
        }
        kept.insert((sequence, n), at: a)
        if kept.count > limit { kept.removeFirst() }
    }

    var newestFirst: [TicketNumber] { kept.reversed().map(\.1) }
    var newestFirstPairs: [(UInt64, TicketNumber)] { kept.reversed() }
}
