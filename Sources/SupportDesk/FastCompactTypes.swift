import BusinessTime
import Foundation

// The hot types' hand-written compact forms (see FastCompact.swift for why and for the contract).
// Each `writeCompact` lists the stored properties in declaration order, as the synthesized
// `encode(to:)` does: `field` for a non-optional, `fieldIfPresent` for an optional. Each
// `init(compactAt:in:)` takes keys in any order, skips unknown ones and requires the non-optional
// ones, as the synthesized `init(from:)` does. Adding a stored property means adding it here too:
// `FastCompactTests` fails until both sides agree.

// MARK: Values

extension Channel: FastCompact {}
extension TicketStatus: FastCompact {}
extension TicketType: FastCompact {}
extension FirstLineCategory: FastCompact {}
extension Criticality: FastCompact {}
extension SupportLevel: FastCompact {}
extension AnswerVolume: FastCompact {}
extension DeliveryStatus: FastCompact {}
extension ParticipantRole: FastCompact {}

/// Custom Codable: one string, `staff:ID`, `contact:ID` or `system:NAME` (its `description`, written
/// here without building that string; read through `Party.init?(_:)`, as `init(from:)` reads it).
extension Party: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        switch self {
        case .staff(let id): w.string(prefix: "staff:", id)
        case .contact(let id): w.string(prefix: "contact:", id)
        case .system(let name): w.string(prefix: "system:", name)
        }
    }

    init(compactAt at: Int, in r: Reader) throws {
        if let p = try Party.parseASCII(at, r) { self = p; return }
        let text = try r.string(at)
        guard let p = Party(text) else { throw CompactCoding.corrupt("'\(text)' is not staff:ID, contact:ID or system:NAME", []) }
        self = p
    }

    /// The common case without `Party.init?(_:)`'s Character-by-Character search for the colon:
    /// `staff:`, `contact:` or `system:` followed by an ASCII byte. Then the colon is that first
    /// Character ":" (nothing before it joins it, and an ASCII byte after it starts a new Character),
    /// so the result is what `Party.init?(_:)` gives. Anything else (nil) takes that initialiser.
    private static func parseASCII(_ at: Int, _ r: Reader) throws -> Party? {
        guard try r.byte(at) == 6 else { return nil }
        var p = at + 1
        let n = try r.length(&p)
        guard p + n <= r.bytes.count else { return nil }
        let text = UnsafeRawBufferPointer(rebasing: r.bytes[p..<(p + n)])
        func tail(after prefix: StaticString) -> String? {
            let k = prefix.utf8CodeUnitCount
            guard n > k, text[k] < 0x80, memcmp(text.baseAddress!, prefix.utf8Start, k) == 0 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: text[k...]), as: UTF8.self)
        }
        switch text.first {
        case UInt8(ascii: "s"):
            if let id = tail(after: "staff:") { return .staff(id) }
            if let name = tail(after: "system:") { return .system(name) }
        case UInt8(ascii: "c"):
            if let id = tail(after: "contact:") { return .contact(id) }
        default: break
        }
        return nil
    }
}

/// Custom Codable: one string, `YYYY-MM-DD`.
extension LocalDate: FastCompact {
    func writeCompact(into w: inout CompactWriter) { w.string(description) }
    init(compactAt at: Int, in r: Reader) throws {
        if let d = try LocalDate.parseASCII(at, r) { self = d; return }
        let text = try r.string(at)
        guard let d = LocalDate(text) else { throw CompactCoding.corrupt("expected a date \"YYYY-MM-DD\", got \"\(text)\"", []) }
        self = d
    }

    /// The common case without `LocalDate.init?(_:)`'s split into Substrings: exactly ten ASCII
    /// bytes `DDDD-DD-DD`, the only shape that initialiser accepts, then its validity check. Anything
    /// else (nil) takes that initialiser.
    private static func parseASCII(_ at: Int, _ r: Reader) throws -> LocalDate? {
        guard try r.byte(at) == 6, try r.byte(at + 1) == 10, at + 12 <= r.bytes.count else { return nil }
        let b = UnsafeRawBufferPointer(rebasing: r.bytes[(at + 2)..<(at + 12)])
        guard b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var v = 0
            for i in range {
                guard b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int(b[i] - UInt8(ascii: "0"))
            }
            return v
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        let date = LocalDate(year: y, month: m, day: d)
        return date.isValid ? date : nil
    }
}

extension AttachmentRef: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("sha256", sha256)
        w.field("filename", filename)
        w.field("contentType", contentType)
        w.field("size", size)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var sha256: String?, filename: String?, contentType: String?, size: Int?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "sha256": sha256 = try r.value(v)
            case "filename": filename = try r.value(v)
            case "contentType": contentType = try r.value(v)
            case "size": size = try r.value(v)
            default: break
            }
        }
        self.init(sha256: try required(sha256, "sha256"), filename: try required(filename, "filename"),
                  contentType: try required(contentType, "contentType"), size: try required(size, "size"))
    }
}

extension Classification: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.fieldIfPresent("type", type)
        w.fieldIfPresent("firstLine", firstLine)
        w.fieldIfPresent("direction", direction)
        w.fieldIfPresent("directionType", directionType)
        w.fieldIfPresent("complexity", complexity)
        w.fieldIfPresent("criticality", criticality)
        w.fieldIfPresent("category", category)
        w.fieldIfPresent("plannedMinutes", plannedMinutes)
        w.fieldIfPresent("expectedDate", expectedDate)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        self.init()
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "type": type = try r.optional(v)
            case "firstLine": firstLine = try r.optional(v)
            case "direction": direction = try r.optional(v)
            case "directionType": directionType = try r.optional(v)
            case "complexity": complexity = try r.optional(v)
            case "criticality": criticality = try r.optional(v)
            case "category": category = try r.optional(v)
            case "plannedMinutes": plannedMinutes = try r.optional(v)
            case "expectedDate": expectedDate = try r.optional(v)
            default: break
            }
        }
    }
}

extension AnswerEvaluation: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("kind", kind)
        w.field("volume", volume)
        w.field("links", links)
        w.field("screenshots", screenshots)
        w.field("help", help)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var kind: Int?, volume: AnswerVolume?, links: Int?, screenshots: Int?, help: Int?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "kind": kind = try r.value(v)
            case "volume": volume = try r.value(v)
            case "links": links = try r.value(v)
            case "screenshots": screenshots = try r.value(v)
            case "help": help = try r.value(v)
            default: break
            }
        }
        self.init(kind: try required(kind, "kind"), volume: try required(volume, "volume"), links: try required(links, "links"),
                  screenshots: try required(screenshots, "screenshots"), help: try required(help, "help"))
    }
}

extension TicketOrigin: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("splitFrom", splitFrom)
        w.field("comment", comment)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var splitFrom: TicketNumber?, comment: CommentNumber?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "splitFrom": splitFrom = try r.value(v)
            case "comment": comment = try r.value(v)
            default: break
            }
        }
        self.init(splitFrom: try required(splitFrom, "splitFrom"), comment: try required(comment, "comment"))
    }
}

// MARK: Events (the hot ones, by share of a realistic log)

extension CommentAdded: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("comment", comment)
        w.field("author", author)
        w.field("text", text)
        w.field("isInternal", isInternal)
        w.field("notify", notify)
        w.field("attachments", attachments)
        w.fieldIfPresent("channel", channel)
        w.fieldIfPresent("externalId", externalId)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, comment: CommentNumber?, author: Party?, text: String?, isInternal: Bool?
        var notify: [Party]?, attachments: [AttachmentRef]?, channel: Channel?, externalId: String?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "comment": comment = try r.value(v)
            case "author": author = try r.value(v)
            case "text": text = try r.value(v)
            case "isInternal": isInternal = try r.value(v)
            case "notify": notify = try r.partyList(v)
            case "attachments": attachments = try r.value(v)
            case "channel": channel = try r.optional(v)
            case "externalId": externalId = try r.optional(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), comment: try required(comment, "comment"),
                  author: try required(author, "author"), text: try required(text, "text"),
                  isInternal: try required(isInternal, "isInternal"), notify: try required(notify, "notify"),
                  attachments: try required(attachments, "attachments"), channel: channel, externalId: externalId)
    }
}

extension StatusChanged: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("from", from)
        w.field("to", to)
        w.field("by", by)
        w.fieldIfPresent("reason", reason)
        w.fieldIfPresent("until", until)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, from: TicketStatus?, to: TicketStatus?, by: Party?, reason: String?, until: Date?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "from": from = try r.value(v)
            case "to": to = try r.value(v)
            case "by": by = try r.value(v)
            case "reason": reason = try r.optional(v)
            case "until": until = try r.optional(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), from: try required(from, "from"), to: try required(to, "to"),
                  by: try required(by, "by"), reason: reason, until: until)
    }
}

extension TicketOpened: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("channel", channel)
        w.field("subject", subject)
        w.field("body", body)
        w.field("contact", contact)
        w.fieldIfPresent("organisation", organisation)
        w.field("language", language)
        w.field("openedBy", openedBy)
        w.field("premium", premium)
        w.fieldIfPresent("premiumRefused", premiumRefused)
        w.field("participants", participants)
        w.fieldIfPresent("tierId", tierId)
        w.fieldIfPresent("reactionDue", reactionDue)
        w.fieldIfPresent("resolutionDue", resolutionDue)
        w.fieldIfPresent("escalationDue", escalationDue)
        w.field("attachments", attachments)
        w.fieldIfPresent("externalId", externalId)
        w.fieldIfPresent("origin", origin)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, channel: Channel?, subject: String?, body: String?, contact: ContactId?
        var organisation: OrganisationId?, language: String?, openedBy: Party?, premium: Bool?, premiumRefused: String?
        var participants: [StaffId]?, tierId: String?, reactionDue: Date?, resolutionDue: Date?, escalationDue: Date?
        var attachments: [AttachmentRef]?, externalId: String?, origin: TicketOrigin?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "channel": channel = try r.value(v)
            case "subject": subject = try r.value(v)
            case "body": body = try r.value(v)
            case "contact": contact = try r.value(v)
            case "organisation": organisation = try r.optional(v)
            case "language": language = try r.value(v)
            case "openedBy": openedBy = try r.value(v)
            case "premium": premium = try r.value(v)
            case "premiumRefused": premiumRefused = try r.optional(v)
            case "participants": participants = try r.value(v)
            case "tierId": tierId = try r.optional(v)
            case "reactionDue": reactionDue = try r.optional(v)
            case "resolutionDue": resolutionDue = try r.optional(v)
            case "escalationDue": escalationDue = try r.optional(v)
            case "attachments": attachments = try r.value(v)
            case "externalId": externalId = try r.optional(v)
            case "origin": origin = try r.optional(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), channel: try required(channel, "channel"),
                  subject: try required(subject, "subject"), body: try required(body, "body"),
                  contact: try required(contact, "contact"), organisation: organisation,
                  language: try required(language, "language"), openedBy: try required(openedBy, "openedBy"),
                  premium: try required(premium, "premium"), premiumRefused: premiumRefused,
                  participants: try required(participants, "participants"), tierId: tierId, reactionDue: reactionDue,
                  resolutionDue: resolutionDue, escalationDue: escalationDue,
                  attachments: try required(attachments, "attachments"), externalId: externalId, origin: origin)
    }
}

extension TicketAccepted: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("by", by)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, by: StaffId?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "by": by = try r.value(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), by: try required(by, "by"))
    }
}

extension AnswerEvaluated: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("staff", staff)
        w.field("evaluation", evaluation)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, staff: StaffId?, evaluation: AnswerEvaluation?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "staff": staff = try r.value(v)
            case "evaluation": evaluation = try r.value(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), staff: try required(staff, "staff"),
                  evaluation: try required(evaluation, "evaluation"))
    }
}

extension TicketClassified: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("classification", classification)
        w.field("by", by)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, classification: Classification?, by: StaffId?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "classification": classification = try r.value(v)
            case "by": by = try r.value(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), classification: try required(classification, "classification"),
                  by: try required(by, "by"))
    }
}

/// Schema 2 (schema 1 payloads are upgraded by `EventCodec` through Codable).
extension AnswerRated: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("contact", contact)
        w.fieldIfPresent("comment", comment)
        w.field("score", score)
        w.fieldIfPresent("text", text)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, contact: ContactId?, comment: CommentNumber?, score: Int?, text: String?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "contact": contact = try r.value(v)
            case "comment": comment = try r.optional(v)
            case "score": score = try r.value(v)
            case "text": text = try r.optional(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), contact: try required(contact, "contact"), comment: comment,
                  score: try required(score, "score"), text: text)
    }
}

extension LevelChanged: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("from", from)
        w.field("to", to)
        w.field("by", by)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, from: SupportLevel?, to: SupportLevel?, by: StaffId?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "from": from = try r.value(v)
            case "to": to = try r.value(v)
            case "by": by = try r.value(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), from: try required(from, "from"), to: try required(to, "to"),
                  by: try required(by, "by"))
    }
}

extension ParticipantAdded: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("staff", staff)
        w.field("role", role)
        w.field("by", by)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, staff: StaffId?, role: ParticipantRole?, by: Party?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "staff": staff = try r.value(v)
            case "role": role = try r.value(v)
            case "by": by = try r.value(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), staff: try required(staff, "staff"), role: try required(role, "role"),
                  by: try required(by, "by"))
    }
}

extension TimeLogged: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("ticket", ticket)
        w.field("staff", staff)
        w.field("minutes", minutes)
        w.field("on", on)
        w.fieldIfPresent("note", note)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var ticket: TicketNumber?, staff: StaffId?, minutes: Int?, on: LocalDate?, note: String?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "ticket": ticket = try r.value(v)
            case "staff": staff = try r.value(v)
            case "minutes": minutes = try r.value(v)
            case "on": on = try r.value(v)
            case "note": note = try r.optional(v)
            default: break
            }
        }
        self.init(ticket: try required(ticket, "ticket"), staff: try required(staff, "staff"),
                  minutes: try required(minutes, "minutes"), on: try required(on, "on"), note: note)
    }
}

// MARK: Ticket state (a projection row per dirty ticket on every flush; read back at start-up)

extension CommentState: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("number", number)
        w.field("author", author)
        w.field("text", text)
        w.field("isInternal", isInternal)
        w.field("notify", notify)
        w.field("attachments", attachments)
        w.field("at", at)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var number: CommentNumber?, author: Party?, text: String?, isInternal: Bool?, notify: [Party]?
        var attachments: [AttachmentRef]?, when: Date?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "number": number = try r.value(v)
            case "author": author = try r.value(v)
            case "text": text = try r.value(v)
            case "isInternal": isInternal = try r.value(v)
            case "notify": notify = try r.value(v)
            case "attachments": attachments = try r.value(v)
            case "at": when = try r.value(v)
            default: break
            }
        }
        self.init(number: try required(number, "number"), author: try required(author, "author"), text: try required(text, "text"),
                  isInternal: try required(isInternal, "isInternal"), notify: try required(notify, "notify"),
                  attachments: try required(attachments, "attachments"), at: try required(when, "at"))
    }
}

extension TicketState: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        w.field("number", number)
        w.field("version", version)
        w.field("status", status)
        w.field("channel", channel)
        w.field("subject", subject)
        w.field("contact", contact)
        w.fieldIfPresent("organisation", organisation)
        w.field("language", language)
        w.field("openedAt", openedAt)
        w.field("premium", premium)
        w.field("participants", participants.sorted())  // sorted, as `TicketState.encode(to:)`
        w.field("coExecutors", coExecutors.sorted())
        w.fieldIfPresent("responsible", responsible)
        w.fieldIfPresent("acceptedAt", acceptedAt)
        w.field("level", level)
        w.field("classification", classification)
        w.fieldIfPresent("tierId", tierId)
        w.fieldIfPresent("reactionDue", reactionDue)
        w.fieldIfPresent("resolutionDue", resolutionDue)
        w.fieldIfPresent("escalationDue", escalationDue)
        w.field("escalated", escalated)
        w.field("spam", spam)
        w.fieldIfPresent("mergedInto", mergedInto)
        w.field("merged", merged)
        w.field("splitOff", splitOff)
        w.field("splitComments", splitComments)
        w.fieldIfPresent("origin", origin)
        w.field("comments", comments)
        w.fieldIfPresent("firstResponseAt", firstResponseAt)
        w.fieldIfPresent("resolvedAt", resolvedAt)
        w.fieldIfPresent("closedAt", closedAt)
        w.field("evaluations", evaluations)
        w.field("loggedMinutes", loggedMinutes)
        w.field("ratingScores", ratingScores)
        w.field("deliveries", deliveries)
        w.fieldIfPresent("lastMessageId", lastMessageId)
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var number: TicketNumber?, version: UInt64?, status: TicketStatus?, channel: Channel?, subject: String?
        var contact: ContactId?, organisation: OrganisationId?, language: String?, openedAt: Date?, premium: Bool?
        var participants: Set<StaffId>?, coExecutors: Set<StaffId>?, responsible: StaffId?, acceptedAt: Date?
        var level: SupportLevel?, classification: Classification?, tierId: String?, reactionDue: Date?
        var resolutionDue: Date?, escalationDue: Date?, escalated: Bool?, spam: Bool?, mergedInto: TicketNumber?
        var merged: [TicketNumber]?, splitOff: [TicketNumber]?, splitComments: [CommentNumber]?, origin: TicketOrigin?
        var comments: [CommentState]?, firstResponseAt: Date?, resolvedAt: Date?, closedAt: Date?
        var evaluations: [StaffId: AnswerEvaluation]?, loggedMinutes: [StaffId: Int]?, ratingScores: [Int]?
        var deliveries: [String: DeliveryStatus]?, lastMessageId: String?
        var o = try r.object(at)
        while let (k, v) = try o.next() {
            switch k {
            case "number": number = try r.value(v)
            case "version": version = try r.value(v)
            case "status": status = try r.value(v)
            case "channel": channel = try r.value(v)
            case "subject": subject = try r.value(v)
            case "contact": contact = try r.value(v)
            case "organisation": organisation = try r.optional(v)
            case "language": language = try r.value(v)
            case "openedAt": openedAt = try r.value(v)
            case "premium": premium = try r.value(v)
            case "participants": participants = try r.value(v)
            case "coExecutors": coExecutors = try r.value(v)
            case "responsible": responsible = try r.optional(v)
            case "acceptedAt": acceptedAt = try r.optional(v)
            case "level": level = try r.value(v)
            case "classification": classification = try r.value(v)
            case "tierId": tierId = try r.optional(v)
            case "reactionDue": reactionDue = try r.optional(v)
            case "resolutionDue": resolutionDue = try r.optional(v)
            case "escalationDue": escalationDue = try r.optional(v)
            case "escalated": escalated = try r.value(v)
            case "spam": spam = try r.value(v)
            case "mergedInto": mergedInto = try r.optional(v)
            case "merged": merged = try r.value(v)
            case "splitOff": splitOff = try r.value(v)
            case "splitComments": splitComments = try r.value(v)
            case "origin": origin = try r.optional(v)
            case "comments": comments = try r.value(v)
            case "firstResponseAt": firstResponseAt = try r.optional(v)
            case "resolvedAt": resolvedAt = try r.optional(v)
            case "closedAt": closedAt = try r.optional(v)
            case "evaluations": evaluations = try r.value(v)
            case "loggedMinutes": loggedMinutes = try r.value(v)
            case "ratingScores": ratingScores = try r.value(v)
            case "deliveries": deliveries = try r.value(v)
            case "lastMessageId": lastMessageId = try r.optional(v)
            default: break
            }
        }
        // Properties with a default value are still required: the synthesized `init(from:)` decodes
        // every non-optional stored `var`.
        self.init(number: try required(number, "number"), version: try required(version, "version"),
                  status: try required(status, "status"), channel: try required(channel, "channel"),
                  subject: try required(subject, "subject"), contact: try required(contact, "contact"),
                  organisation: organisation, language: try required(language, "language"),
                  openedAt: try required(openedAt, "openedAt"), premium: try required(premium, "premium"),
                  participants: try required(participants, "participants"),
                  coExecutors: try required(coExecutors, "coExecutors"), responsible: responsible, acceptedAt: acceptedAt,
                  level: try required(level, "level"), classification: try required(classification, "classification"),
                  tierId: tierId, reactionDue: reactionDue, resolutionDue: resolutionDue, escalationDue: escalationDue,
                  escalated: try required(escalated, "escalated"), spam: try required(spam, "spam"), mergedInto: mergedInto,
                  merged: try required(merged, "merged"), splitOff: try required(splitOff, "splitOff"),
                  splitComments: try required(splitComments, "splitComments"), origin: origin,
                  comments: try required(comments, "comments"), firstResponseAt: firstResponseAt, resolvedAt: resolvedAt,
                  closedAt: closedAt, evaluations: try required(evaluations, "evaluations"),
                  loggedMinutes: try required(loggedMinutes, "loggedMinutes"),
                  ratingScores: try required(ratingScores, "ratingScores"), deliveries: try required(deliveries, "deliveries"),
                  lastMessageId: lastMessageId)
    }
}
