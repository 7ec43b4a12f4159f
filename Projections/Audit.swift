import EventLog
import Foundation
import SupportDesk

/// Audit queries straight from the log (R29): a ticket as it was at a moment, its history with actor
/// and cause, and who could see each comment and when.
public enum Audit {
    public struct HistoryLine: Sendable, Hashable, Codable {
        public var sequence: UInt64
        public var at: Date
        public var type: String
        public var actor: String?
        /// person, client, rule (escalation timer), intake (mail), desk
        public var cause: String
        public var payload: String
    }

    public struct Replay: Sendable, Hashable, Codable {
        public var asOf: Date
        public var ticket: TicketState
        public var visibility: VisibilitySettings
        /// Per comment, the contacts who could see it at that moment.
        public var visibleTo: [CommentNumber: [ContactId]]
    }

    public struct Interval: Sendable, Hashable, Codable {
        public var contact: ContactId
        /// "e-mail" (notified: received it, for good) or "portal" (could read it there).
        public var via: String
        public var from: Date
        public var until: Date?
    }

    public struct CommentVisibility: Sendable, Hashable, Codable {
        public var comment: CommentNumber
        public var isInternal: Bool
        public var author: String
        /// Staff see every comment, internal or not, for as long as they are staff.
        public var staff: String
        public var contacts: [Interval]
    }

    /// Which streams a ticket's audit has to read: the account, the ticket, these organisations and
    /// these contacts (`DeskView.auditScope`: everyone who could ever reach the ticket). nil reads the
    /// whole log, skipping other tickets — right, but it takes seconds on a long log.
    public struct Scope: Sendable, Hashable {
        public var contacts: Set<ContactId>
        public var organisations: Set<OrganisationId>
        public init(contacts: Set<ContactId>, organisations: Set<OrganisationId>) {
            self.contacts = contacts
            self.organisations = organisations
        }
    }

    /// The events a ticket's audit folds, in log order: those of `scope`'s streams, or every event
    /// of the log except other tickets'.
    static func forEachRecord(_ store: any EventStore, ticket n: TicketNumber, scope: Scope?,
                              _ body: (RecordedEvent) throws -> Void) throws {
        let stream = Streams.ticket(n)
        guard let scope else {
            try store.read { r in
                try r.forEachRawRecord(from: 1) { _, raw in
                    let rec = try RecordFormat.decode(raw)
                    if rec.stream.hasPrefix("ticket-"), rec.stream != stream { return true }
                    try body(rec)
                    return true
                }
            }
            return
        }
        let streams = [Streams.account, stream] + scope.organisations.sorted().map(Streams.organisation)
            + scope.contacts.sorted().map(Streams.contact)
        var records: [RecordedEvent] = []
        try store.read { r in
            for s in streams { records += try r.streamRecords(s) }
        }
        records.sort { $0.sequence < $1.sequence }
        for rec in records { try body(rec) }
    }

    static func cause(_ actor: String?) -> String {
        guard let a = actor, let p = Party(a) else { return "desk" }
        switch p {
        case .staff: return "person"
        case .contact: return "client"
        case .system(let name): return name == "escalation" ? "rule (escalation timer)" : name == "mail" ? "intake (mail)" : "desk (\(name))"
        }
    }

    /// Every event of ticket `n`, with actor and cause.
    public static func history(_ store: any EventStore, ticket n: TicketNumber) throws -> [HistoryLine] {
        try store.readStream(Streams.ticket(n)).map { r in
            let payload: String
            if let e = try? EventCodec.decode(type: r.type, schemaVersion: r.schemaVersion, payload: r.payload),
               let data = try? sortedEncoder.encode(e.payload) {
                payload = String(decoding: data, as: UTF8.self)
            } else {
                payload = "(\(r.payload.count) bytes)"
            }
            return HistoryLine(sequence: r.sequence, at: r.timestamp, type: r.type, actor: r.metadata.actor,
                               cause: cause(r.metadata.actor), payload: payload)
        }
    }

    static var sortedEncoder: JSONEncoder {
        let e = EventCodec.makeEncoder()
        e.outputFormatting.insert(.sortedKeys)
        return e
    }

    /// Folds the log up to `moment` (everything but other tickets) and returns ticket `n` as it was.
    public static func replay(_ store: any EventStore, ticket n: TicketNumber, asOf moment: Date, scope: Scope? = nil) throws -> Replay? {
        var state = DeskState()
        let limit = Timestamp.micros(from: moment)
        try forEachRecord(store, ticket: n, scope: scope) { rec in
            guard rec.timestampMicros <= limit else { return }  // timestamps need not be monotonic: scan on
            guard EventCodec.isKnown(rec.type) else { return }
            state.evolve(try EventCodec.decode(type: rec.type, schemaVersion: rec.schemaVersion, payload: rec.payload), at: rec.timestamp)
        }
        guard let t = state.tickets[n] else { return nil }
        let settings = state.account.visibility
        var visible: [CommentNumber: [ContactId]] = [:]
        let candidates = state.contacts.values.filter { $0.mergedInto == nil && state.contactReaches($0.id, t) }
        for c in t.comments {
            visible[c.number] = candidates.filter {
                DeskView.contactMaySee($0.id, comment: c, ticket: t, settings: settings, state: state)
            }.map(\.id).sorted()
        }
        return Replay(asOf: moment, ticket: t, visibility: settings, visibleTo: visible)
    }

    /// For every comment of ticket `n`: who could see it and from when to when — following notify
    /// sets (received by e-mail: for good), the visibility setting's changes, organisation membership,
    /// portal access grants and revocations, and contact merges. `contact` narrows it to one contact.
    public static func visibility(_ store: any EventStore, ticket n: TicketNumber, contact only: ContactId? = nil,
                                  scope: Scope? = nil) throws -> [CommentVisibility] {
        var state = DeskState()
        let stream = Streams.ticket(n)
        // (comment, contact, via) → open interval start
        var open: [String: (CommentNumber, ContactId, String, Date)] = [:]
        var closed: [CommentNumber: [Interval]] = [:]
        func recompute(at: Date) {
            guard let t = state.tickets[n] else { return }
            let settings = state.account.visibility
            var now: [String: (CommentNumber, ContactId, String)] = [:]
            let candidates = state.contacts.values.filter { c in
                c.mergedInto == nil && (state.survivor(of: t.contact) == c.id || (c.organisation != nil && c.organisation == t.organisation)
                    || t.comments.contains { $0.notify.contains(.contact(c.id)) || $0.author == .contact(c.id) })
            }
            for c in t.comments where !c.isInternal {
                for contact in candidates {
                    if let only, state.survivor(of: only) != contact.id { continue }
                    let notified = c.notify.contains { $0.contactId.map { state.survivor(of: $0) == contact.id } ?? false }
                        || c.author.contactId.map { state.survivor(of: $0) == contact.id } == true
                    if notified { now["\(c.number)|\(contact.id)|e-mail"] = (c.number, contact.id, "e-mail") }
                    if contact.portalAccess, DeskView.contactMaySee(contact.id, comment: c, ticket: t, settings: settings, state: state) {
                        now["\(c.number)|\(contact.id)|portal"] = (c.number, contact.id, "portal")
                    }
                }
            }
            for (k, v) in open where now[k] == nil {
                // E-mail cannot be unsent: an e-mail interval never closes.
                if v.2 == "e-mail" { continue }
                closed[v.0, default: []].append(Interval(contact: v.1, via: v.2, from: v.3, until: at))
                open[k] = nil
            }
            for (k, v) in now where open[k] == nil { open[k] = (v.0, v.1, v.2, at) }
        }
        try forEachRecord(store, ticket: n, scope: scope) { rec in
            guard EventCodec.isKnown(rec.type) else { return }
            state.evolve(try EventCodec.decode(type: rec.type, schemaVersion: rec.schemaVersion, payload: rec.payload), at: rec.timestamp)
            if state.tickets[n] != nil, rec.stream == stream || rec.stream == Streams.account || rec.stream.hasPrefix("contact-") {
                recompute(at: rec.timestamp)
            }
        }
        guard let t = state.tickets[n] else { return [] }
        for (_, v) in open { closed[v.0, default: []].append(Interval(contact: v.1, via: v.2, from: v.3, until: nil)) }
        return t.comments.map { c in
            CommentVisibility(comment: c.number, isInternal: c.isInternal, author: c.author.description,
                              staff: "all staff (\(c.isInternal ? "internal" : "to the client"))",
                              contacts: (closed[c.number] ?? []).sorted { ($0.from, $0.contact, $0.via) < ($1.from, $1.contact, $1.via) })
        }
    }
}
