import BusinessTime
import Foundation

// Identities and small values shared by events, commands and state. Identifiers are plain strings
// chosen by the caller (or generated), except ticket numbers, which the desk assigns (R3: a numeric
// ticket number exists and is searchable).

public typealias StaffId = String
public typealias ContactId = String
public typealias OrganisationId = String
public typealias TicketNumber = Int
/// A comment's number within its ticket: 1 is the opening message.
public typealias CommentNumber = Int

/// Who did something: a staff member, a client contact, or the desk itself (timers, mail intake).
/// Encoded as one string, `staff:ID`, `contact:ID` or `system:NAME`, which reads well in dumps.
public enum Party: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    case staff(StaffId)
    case contact(ContactId)
    case system(String)

    public var description: String {
        switch self {
        case .staff(let id): "staff:\(id)"
        case .contact(let id): "contact:\(id)"
        case .system(let name): "system:\(name)"
        }
    }

    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let kind = text[..<colon], id = String(text[text.index(after: colon)...])
        guard !id.isEmpty else { return nil }
        switch kind {
        case "staff": self = .staff(id)
        case "contact": self = .contact(id)
        case "system": self = .system(id)
        default: return nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let p = Party(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not staff:ID, contact:ID or system:NAME"))
        }
        self = p
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public static func < (a: Party, b: Party) -> Bool { a.description < b.description }

    public var staffId: StaffId? { if case .staff(let id) = self { id } else { nil } }
    public var contactId: ContactId? { if case .contact(let id) = self { id } else { nil } }
}

/// Roles (R26). Contacts are clients; the others are staff accounts.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Read-only: sees everything staff see, changes nothing (the demo / audit role).
    case auditor
    case staff
    case manager
    case admin

    var rank: Int { switch self { case .auditor: 0; case .staff: 1; case .manager: 2; case .admin: 3 } }
    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
}

/// How a ticket arrived (R1): every channel produces the same kind of ticket.
public enum Channel: String, Sendable, Hashable, Codable, CaseIterable {
    case email, webForm = "web-form", api, phone, portal
}

/// R14.
public enum TicketStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case new, accepted, waitingForClient = "waiting-for-client", postponed, resolved, closed, reopened

    /// Open means it still needs work from staff or the client.
    public var isOpen: Bool { self != .resolved && self != .closed }
}

/// R16.
public enum TicketType: String, Sendable, Hashable, Codable, CaseIterable {
    case outage, incident, changeRequest = "change-request"
}

/// R16: the first-line category.
public enum FirstLineCategory: String, Sendable, Hashable, Codable, CaseIterable {
    case administration, abusive, offTopic = "off-topic", answeredInFAQ = "answered-in-faq", content, technical
}

public enum Criticality: String, Sendable, Hashable, Codable, CaseIterable {
    case low, normal, high, critical
}

/// R17.
public enum SupportLevel: Int, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case l1 = 1, l2 = 2, l3 = 3
    public static func < (a: SupportLevel, b: SupportLevel) -> Bool { a.rawValue < b.rawValue }
}

/// R16: everything staff decide about a ticket. Every field is optional; a classify command changes
/// the fields it names.
public struct Classification: Sendable, Hashable, Codable {
    public var type: TicketType?
    public var firstLine: FirstLineCategory?
    /// Two-level classification: a direction, and a type within it.
    public var direction: String?
    public var directionType: String?
    /// 1 (trivial) … 5 (hardest).
    public var complexity: Int?
    public var criticality: Criticality?
    public var category: String?
    public var plannedMinutes: Int?
    public var expectedDate: LocalDate?

    public init(type: TicketType? = nil, firstLine: FirstLineCategory? = nil, direction: String? = nil,
                directionType: String? = nil, complexity: Int? = nil, criticality: Criticality? = nil,
                category: String? = nil, plannedMinutes: Int? = nil, expectedDate: LocalDate? = nil) {
        self.type = type
        self.firstLine = firstLine
        self.direction = direction
        self.directionType = directionType
        self.complexity = complexity
        self.criticality = criticality
        self.category = category
        self.plannedMinutes = plannedMinutes
        self.expectedDate = expectedDate
    }

    /// This classification with every field that `change` sets replaced.
    public func merging(_ change: Classification) -> Classification {
        Classification(type: change.type ?? type, firstLine: change.firstLine ?? firstLine,
                       direction: change.direction ?? direction, directionType: change.directionType ?? directionType,
                       complexity: change.complexity ?? complexity, criticality: change.criticality ?? criticality,
                       category: change.category ?? category, plannedMinutes: change.plannedMinutes ?? plannedMinutes,
                       expectedDate: change.expectedDate ?? expectedDate)
    }
}

/// R22: the staff member's evaluation of their own answer, given when closing.
public struct AnswerEvaluation: Sendable, Hashable, Codable {
    /// 1 … 5, ordered by difficulty and time.
    public var kind: Int
    public var volume: AnswerVolume
    public var links: Int
    public var screenshots: Int
    /// 1 = alone, 2 = some help, 3 = mostly helped (a lowering coefficient).
    public var help: Int

    public init(kind: Int, volume: AnswerVolume, links: Int = 0, screenshots: Int = 0, help: Int = 1) {
        self.kind = kind
        self.volume = volume
        self.links = links
        self.screenshots = screenshots
        self.help = help
    }
}

public enum AnswerVolume: String, Sendable, Hashable, Codable, CaseIterable {
    case short, long
}

/// A file attached to a comment, stored by content hash beside the log.
public struct AttachmentRef: Sendable, Hashable, Codable {
    public var sha256: String
    public var filename: String
    public var contentType: String
    public var size: Int

    public init(sha256: String, filename: String, contentType: String, size: Int) {
        self.sha256 = sha256
        self.filename = filename
        self.contentType = contentType
        self.size = size
    }
}

/// A delivery state of one comment to one recipient.
/// A comment's delivery to one recipient: `queued` when a send is attempted, then `delivered`, or
/// `failed` (retried with backoff), or `parked` (given up, with the reason, for staff to act on).
public enum DeliveryStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, delivered, failed, parked
}

/// R18: an SLA tier; targets are in business hours of the tier's calendar.
public struct SLATier: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var calendarId: String
    public var reactionHours: Double
    public var resolutionHours: Double

    public init(id: String, name: String, calendarId: String, reactionHours: Double, resolutionHours: Double) {
        self.id = id
        self.name = name
        self.calendarId = calendarId
        self.reactionHours = reactionHours
        self.resolutionHours = resolutionHours
    }
}

/// R9: a ticket not accepted within `afterBusinessHours` gets `manager` added as executor.
public struct EscalationRule: Sendable, Hashable, Codable {
    public var afterBusinessHours: Double
    public var manager: StaffId

    public init(afterBusinessHours: Double, manager: StaffId) {
        self.afterBusinessHours = afterBusinessHours
        self.manager = manager
    }
}

/// R12.
public struct VisibilitySettings: Sendable, Hashable, Codable {
    /// Contacts see only the comments in which they were notified (also hides notes on their card).
    public var onlyNotified: Bool
    /// Contacts of one organisation see each other's tickets.
    public var organisationSharing: Bool

    public init(onlyNotified: Bool = false, organisationSharing: Bool = false) {
        self.onlyNotified = onlyNotified
        self.organisationSharing = organisationSharing
    }
}

/// Normalises an e-mail address for lookups: trimmed and lowercased.
public func normalisedEmail(_ s: String) -> String {
    trimmedBlank(s).lowercased()
}

/// `s` without whitespace or line ends at either end (no trip through NSString: this runs per message).
func trimmedBlank(_ s: String) -> String {
    let u = s.unicodeScalars
    guard let first = u.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
    let last = u.lastIndex(where: { !$0.properties.isWhitespace })!
    if first == u.startIndex && u.index(after: last) == u.endIndex { return s }
    return String(Substring(s.unicodeScalars[first...last]))
}

/// Normalises a phone number for lookups: digits only, with a leading + kept.
public func normalisedPhone(_ s: String) -> String {
    let t = trimmedBlank(s)
    let digits = t.filter(\.isASCII).filter(\.isNumber)
    return t.hasPrefix("+") ? "+" + digits : digits
}
