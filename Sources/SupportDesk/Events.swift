import BusinessTime
import Foundation

// Every fact the desk records (R27). Each event names the aggregate it belongs to, so its stream
// follows from its content: `account`, `org-ID`, `contact-ID` or `ticket-N`. Payloads are JSON in the
// log; the type name is the enum case name with a capital, e.g. `TicketAccepted`.

public protocol EventPayload: Codable, Sendable, Hashable {
    /// The type name in the log.
    static var type: String { get }
    /// The schema version written today; older versions are upgraded by `EventCodec`.
    static var schemaVersion: UInt16 { get }
    var event: DeskEvent { get }
}

extension EventPayload {
    public static var schemaVersion: UInt16 { 1 }
}

// MARK: Account configuration (stream `account`)

public struct AccountCreated: EventPayload {
    public static let type = "AccountCreated"
    public var name: String
    public var timeZone: String
    public var defaultLanguage: String
    public var event: DeskEvent { .accountCreated(self) }
}

public struct StaffAdded: EventPayload {
    public static let type = "StaffAdded"
    public var staff: StaffId
    public var name: String
    public var email: String
    public var role: Role
    /// Developers are paid by the hour for logged time instead of per evaluated answer (R23).
    public var isDeveloper: Bool
    public var event: DeskEvent { .staffAdded(self) }
}

public struct StaffChanged: EventPayload {
    public static let type = "StaffChanged"
    public var staff: StaffId
    public var name: String?
    public var email: String?
    public var role: Role?
    public var isDeveloper: Bool?
    /// R13: the signature appended to the member's replies to clients.
    public var signature: String?
    public var active: Bool?
    public var event: DeskEvent { .staffChanged(self) }
}

public struct BrainMembersSet: EventPayload {
    public static let type = "BrainMembersSet"
    public var members: [StaffId]
    public var event: DeskEvent { .brainMembersSet(self) }
}

public struct CalendarDefined: EventPayload {
    public static let type = "CalendarDefined"
    public var calendar: BusinessCalendar
    public var event: DeskEvent { .calendarDefined(self) }
}

public struct SLATierDefined: EventPayload {
    public static let type = "SLATierDefined"
    public var tier: SLATier
    /// This tier applies to tickets of organisations without their own tier.
    public var isDefault: Bool
    public var event: DeskEvent { .slaTierDefined(self) }
}

public struct EscalationRuleSet: EventPayload {
    public static let type = "EscalationRuleSet"
    /// nil switches escalation off.
    public var rule: EscalationRule?
    public var event: DeskEvent { .escalationRuleSet(self) }
}

public struct VisibilitySet: EventPayload {
    public static let type = "VisibilitySet"
    public var settings: VisibilitySettings
    public var event: DeskEvent { .visibilitySet(self) }
}

public struct PayrollFormulaPublished: EventPayload {
    public static let type = "PayrollFormulaPublished"
    public var version: Int
    /// The formula is in force for tickets closed on or after this date (account time zone).
    public var effectiveFrom: LocalDate
    public var source: String
    public var note: String?
    public var event: DeskEvent { .payrollFormulaPublished(self) }
}

/// An API / portal token was issued; only its SHA-256 is stored (R26).
public struct TokenIssued: EventPayload {
    public static let type = "TokenIssued"
    public var hash: String
    public var party: Party
    public var label: String
    public var event: DeskEvent { .tokenIssued(self) }
}

public struct TokenRevoked: EventPayload {
    public static let type = "TokenRevoked"
    public var hash: String
    public var by: Party
    public var event: DeskEvent { .tokenRevoked(self) }
}

// MARK: Organisations (stream `org-ID`)

public struct OrganisationCreated: EventPayload {
    public static let type = "OrganisationCreated"
    public var organisation: OrganisationId
    public var name: String
    public var tierId: String?
    /// E-mail domains whose unknown senders join this organisation when they are auto-created.
    public var domains: [String]
    public var event: DeskEvent { .organisationCreated(self) }
}

public struct OrganisationChanged: EventPayload {
    public static let type = "OrganisationChanged"
    public var organisation: OrganisationId
    public var name: String?
    public var tierId: String?
    public var domains: [String]?
    public var event: DeskEvent { .organisationChanged(self) }
}

/// R20.
public struct PremiumQuotaPurchased: EventPayload {
    public static let type = "PremiumQuotaPurchased"
    public var organisation: OrganisationId
    public var tickets: Int
    public var note: String?
    public var event: DeskEvent { .premiumQuotaPurchased(self) }
}

public struct PremiumQuotaUsed: EventPayload {
    public static let type = "PremiumQuotaUsed"
    public var organisation: OrganisationId
    public var ticket: TicketNumber
    public var event: DeskEvent { .premiumQuotaUsed(self) }
}

// MARK: Contacts (stream `contact-ID`)

public struct ContactCreated: EventPayload {
    public static let type = "ContactCreated"
    public var contact: ContactId
    public var name: String
    public var emails: [String]
    public var phones: [String]
    public var organisation: OrganisationId?
    public var language: String
    /// Created automatically for an unknown sender (R4).
    public var automatic: Bool
    public var event: DeskEvent { .contactCreated(self) }
}

public struct ContactChanged: EventPayload {
    public static let type = "ContactChanged"
    public var contact: ContactId
    public var name: String?
    public var language: String?
    public var organisation: OrganisationId?
    public var event: DeskEvent { .contactChanged(self) }
}

public struct ContactEmailAttached: EventPayload {
    public static let type = "ContactEmailAttached"
    public var contact: ContactId
    public var email: String
    public var event: DeskEvent { .contactEmailAttached(self) }
}

public struct ContactPhoneAttached: EventPayload {
    public static let type = "ContactPhoneAttached"
    public var contact: ContactId
    public var phone: String
    public var event: DeskEvent { .contactPhoneAttached(self) }
}

/// On the duplicate's stream: it is merged away; its tickets and history now belong to `into`.
public struct ContactMerged: EventPayload {
    public static let type = "ContactMerged"
    public var contact: ContactId
    public var into: ContactId
    public var event: DeskEvent { .contactMerged(self) }
}

/// On the survivor's stream: it takes over the duplicate's addresses and phones.
public struct ContactAbsorbed: EventPayload {
    public static let type = "ContactAbsorbed"
    public var contact: ContactId
    public var duplicate: ContactId
    public var emails: [String]
    public var phones: [String]
    public var event: DeskEvent { .contactAbsorbed(self) }
}

public struct PortalAccessChanged: EventPayload {
    public static let type = "PortalAccessChanged"
    public var contact: ContactId
    public var granted: Bool
    public var event: DeskEvent { .portalAccessChanged(self) }
}

/// A staff note on a contact's card: never shown to that contact (R12).
public struct ContactNoteAdded: EventPayload {
    public static let type = "ContactNoteAdded"
    public var contact: ContactId
    public var author: StaffId
    public var text: String
    public var event: DeskEvent { .contactNoteAdded(self) }
}

// MARK: Tickets (stream `ticket-N`)

/// Where a ticket came from when it was not simply written in.
public struct TicketOrigin: Sendable, Hashable, Codable {
    /// Split out of this ticket's comment (R5).
    public var splitFrom: TicketNumber
    public var comment: CommentNumber
}

/// A new ticket; its opening message is comment 1.
public struct TicketOpened: EventPayload {
    public static let type = "TicketOpened"
    public var ticket: TicketNumber
    public var channel: Channel
    public var subject: String
    public var body: String
    public var contact: ContactId
    public var organisation: OrganisationId?
    public var language: String
    public var openedBy: Party
    /// R20: premium only when the organisation had quota left.
    public var premium: Bool
    /// Set when premium was asked for but could not be granted (the ticket opens as normal).
    public var premiumRefused: String?
    /// R7: every active staff member plus the brain members.
    public var participants: [StaffId]
    public var tierId: String?
    public var reactionDue: Date?
    public var resolutionDue: Date?
    /// When the escalation rule (R9) fires if nobody has accepted by then.
    public var escalationDue: Date?
    public var attachments: [AttachmentRef]
    /// The e-mail Message-ID (or other channel id) of the opening message, for threading.
    public var externalId: String?
    public var origin: TicketOrigin?
    public var event: DeskEvent { .ticketOpened(self) }
}

/// R7: the first to accept becomes responsible.
public struct TicketAccepted: EventPayload {
    public static let type = "TicketAccepted"
    public var ticket: TicketNumber
    public var by: StaffId
    public var event: DeskEvent { .ticketAccepted(self) }
}

public enum ParticipantRole: String, Sendable, Hashable, Codable {
    case participant, coExecutor = "co-executor"
}

/// R10.
public struct ParticipantAdded: EventPayload {
    public static let type = "ParticipantAdded"
    public var ticket: TicketNumber
    public var staff: StaffId
    public var role: ParticipantRole
    public var by: Party
    public var event: DeskEvent { .participantAdded(self) }
}

public struct ParticipantRemoved: EventPayload {
    public static let type = "ParticipantRemoved"
    public var ticket: TicketNumber
    public var staff: StaffId
    public var role: ParticipantRole
    public var by: Party
    public var event: DeskEvent { .participantRemoved(self) }
}

public struct TicketReassigned: EventPayload {
    public static let type = "TicketReassigned"
    public var ticket: TicketNumber
    public var from: StaffId?
    public var to: StaffId
    public var by: StaffId
    public var event: DeskEvent { .ticketReassigned(self) }
}

/// R9: recorded by the escalation timer.
public struct TicketEscalated: EventPayload {
    public static let type = "TicketEscalated"
    public var ticket: TicketNumber
    public var manager: StaffId
    public var afterBusinessHours: Double
    public var event: DeskEvent { .ticketEscalated(self) }
}

/// R11: internal, or addressed to the client; `notify` is who receives it.
public struct CommentAdded: EventPayload {
    public static let type = "CommentAdded"
    public var ticket: TicketNumber
    public var comment: CommentNumber
    public var author: Party
    public var text: String
    public var isInternal: Bool
    public var notify: [Party]
    public var attachments: [AttachmentRef]
    public var channel: Channel?
    public var externalId: String?
    public var event: DeskEvent { .commentAdded(self) }
}

/// The delivery of one comment to one recipient.
public struct DeliveryRecorded: EventPayload {
    public static let type = "DeliveryRecorded"
    public var ticket: TicketNumber
    public var comment: CommentNumber
    public var recipient: Party
    public var status: DeliveryStatus
    public var detail: String?
    public var event: DeskEvent { .deliveryRecorded(self) }
}

/// An e-mail the desk received, and what became of it: threaded into a ticket as a comment, opened a
/// ticket, or set aside (automatic mail is recorded but never opens a ticket or triggers mail).
public struct MailReceived: EventPayload {
    public static let type = "MailReceived"
    public var messageId: String
    public var from: String
    public var subject: String
    /// SHA-256 of the raw message in the blob store.
    public var raw: String
    public var ticket: TicketNumber?
    /// The comment it became (1 for the ticket it opened); nil when set aside.
    public var comment: CommentNumber?
    /// `token`, `reference`, `subject`, `new`, or `set-aside`.
    public var threadedBy: String
    /// Why it was set aside, or how the thread was chosen.
    public var note: String?
    public var event: DeskEvent { .mailReceived(self) }
}

/// R14.
public struct StatusChanged: EventPayload {
    public static let type = "StatusChanged"
    public var ticket: TicketNumber
    public var from: TicketStatus
    public var to: TicketStatus
    public var by: Party
    public var reason: String?
    /// For `postponed`: until when.
    public var until: Date?
    public var event: DeskEvent { .statusChanged(self) }
}

/// R16: the classification after the change, in full.
public struct TicketClassified: EventPayload {
    public static let type = "TicketClassified"
    public var ticket: TicketNumber
    public var classification: Classification
    public var by: StaffId
    public var event: DeskEvent { .ticketClassified(self) }
}

/// R17.
public struct LevelChanged: EventPayload {
    public static let type = "LevelChanged"
    public var ticket: TicketNumber
    public var from: SupportLevel
    public var to: SupportLevel
    public var by: StaffId
    public var event: DeskEvent { .levelChanged(self) }
}

/// R5: on the old ticket, a comment was split out into `newTicket`.
public struct CommentSplitOff: EventPayload {
    public static let type = "CommentSplitOff"
    public var ticket: TicketNumber
    public var comment: CommentNumber
    public var newTicket: TicketNumber
    public var by: StaffId
    public var event: DeskEvent { .commentSplitOff(self) }
}

/// R5: on the duplicate: merged into `into` (and closed).
public struct TicketMerged: EventPayload {
    public static let type = "TicketMerged"
    public var ticket: TicketNumber
    public var into: TicketNumber
    public var by: StaffId
    public var event: DeskEvent { .ticketMerged(self) }
}

/// R5: on the original: `duplicate` was merged into it.
public struct DuplicateMergedIn: EventPayload {
    public static let type = "DuplicateMergedIn"
    public var ticket: TicketNumber
    public var duplicate: TicketNumber
    public var by: StaffId
    public var event: DeskEvent { .duplicateMergedIn(self) }
}

/// R6: spam leaves the queues (the ticket is also closed).
public struct MarkedAsSpam: EventPayload {
    public static let type = "MarkedAsSpam"
    public var ticket: TicketNumber
    public var by: StaffId
    public var event: DeskEvent { .markedAsSpam(self) }
}

/// R15.
public struct TimeLogged: EventPayload {
    public static let type = "TimeLogged"
    public var ticket: TicketNumber
    public var staff: StaffId
    public var minutes: Int
    public var on: LocalDate
    public var note: String?
    public var event: DeskEvent { .timeLogged(self) }
}

/// R22: recorded with the close.
public struct AnswerEvaluated: EventPayload {
    public static let type = "AnswerEvaluated"
    public var ticket: TicketNumber
    public var staff: StaffId
    public var evaluation: AnswerEvaluation
    public var event: DeskEvent { .answerEvaluated(self) }
}

/// R24. Schema 2: `score` 1…5 and `text`; schema 1 had `stars` 1…10 and no text (see `EventCodec`).
public struct AnswerRated: EventPayload {
    public static let type = "AnswerRated"
    public static let schemaVersion: UInt16 = 2
    public var ticket: TicketNumber
    public var contact: ContactId
    public var comment: CommentNumber?
    public var score: Int
    public var text: String?
    public var event: DeskEvent { .answerRated(self) }
}

// MARK: The sum of all events

public enum DeskEvent: Sendable, Hashable {
    case accountCreated(AccountCreated)
    case staffAdded(StaffAdded)
    case staffChanged(StaffChanged)
    case brainMembersSet(BrainMembersSet)
    case calendarDefined(CalendarDefined)
    case slaTierDefined(SLATierDefined)
    case escalationRuleSet(EscalationRuleSet)
    case visibilitySet(VisibilitySet)
    case payrollFormulaPublished(PayrollFormulaPublished)
    case tokenIssued(TokenIssued)
    case tokenRevoked(TokenRevoked)
    case organisationCreated(OrganisationCreated)
    case organisationChanged(OrganisationChanged)
    case premiumQuotaPurchased(PremiumQuotaPurchased)
    case premiumQuotaUsed(PremiumQuotaUsed)
    case contactCreated(ContactCreated)
    case contactChanged(ContactChanged)
    case contactEmailAttached(ContactEmailAttached)
    case contactPhoneAttached(ContactPhoneAttached)
    case contactMerged(ContactMerged)
    case contactAbsorbed(ContactAbsorbed)
    case portalAccessChanged(PortalAccessChanged)
    case contactNoteAdded(ContactNoteAdded)
    case ticketOpened(TicketOpened)
    case ticketAccepted(TicketAccepted)
    case participantAdded(ParticipantAdded)
    case participantRemoved(ParticipantRemoved)
    case ticketReassigned(TicketReassigned)
    case ticketEscalated(TicketEscalated)
    case commentAdded(CommentAdded)
    case deliveryRecorded(DeliveryRecorded)
    case mailReceived(MailReceived)
    case statusChanged(StatusChanged)
    case ticketClassified(TicketClassified)
    case levelChanged(LevelChanged)
    case commentSplitOff(CommentSplitOff)
    case ticketMerged(TicketMerged)
    case duplicateMergedIn(DuplicateMergedIn)
    case markedAsSpam(MarkedAsSpam)
    case timeLogged(TimeLogged)
    case answerEvaluated(AnswerEvaluated)
    case answerRated(AnswerRated)

    /// Every payload type, for decoding by type name.
    public static let payloadTypes: [any EventPayload.Type] = [
        AccountCreated.self, StaffAdded.self, StaffChanged.self, BrainMembersSet.self, CalendarDefined.self,
        SLATierDefined.self, EscalationRuleSet.self, VisibilitySet.self, PayrollFormulaPublished.self,
        TokenIssued.self, TokenRevoked.self,
        OrganisationCreated.self, OrganisationChanged.self, PremiumQuotaPurchased.self, PremiumQuotaUsed.self,
        ContactCreated.self, ContactChanged.self, ContactEmailAttached.self, ContactPhoneAttached.self,
        ContactMerged.self, ContactAbsorbed.self, PortalAccessChanged.self, ContactNoteAdded.self,
        TicketOpened.self, TicketAccepted.self, ParticipantAdded.self, ParticipantRemoved.self,
        TicketReassigned.self, TicketEscalated.self, CommentAdded.self, DeliveryRecorded.self, MailReceived.self, StatusChanged.self,
        TicketClassified.self, LevelChanged.self, CommentSplitOff.self, TicketMerged.self, DuplicateMergedIn.self,
        MarkedAsSpam.self, TimeLogged.self, AnswerEvaluated.self, AnswerRated.self,
    ]

    /// The payload inside.
    public var payload: any EventPayload {
        switch self {
        case .accountCreated(let p): p
        case .staffAdded(let p): p
        case .staffChanged(let p): p
        case .brainMembersSet(let p): p
        case .calendarDefined(let p): p
        case .slaTierDefined(let p): p
        case .escalationRuleSet(let p): p
        case .visibilitySet(let p): p
        case .payrollFormulaPublished(let p): p
        case .tokenIssued(let p): p
        case .tokenRevoked(let p): p
        case .organisationCreated(let p): p
        case .organisationChanged(let p): p
        case .premiumQuotaPurchased(let p): p
        case .premiumQuotaUsed(let p): p
        case .contactCreated(let p): p
        case .contactChanged(let p): p
        case .contactEmailAttached(let p): p
        case .contactPhoneAttached(let p): p
        case .contactMerged(let p): p
        case .contactAbsorbed(let p): p
        case .portalAccessChanged(let p): p
        case .contactNoteAdded(let p): p
        case .ticketOpened(let p): p
        case .ticketAccepted(let p): p
        case .participantAdded(let p): p
        case .participantRemoved(let p): p
        case .ticketReassigned(let p): p
        case .ticketEscalated(let p): p
        case .commentAdded(let p): p
        case .deliveryRecorded(let p): p
        case .mailReceived(let p): p
        case .statusChanged(let p): p
        case .ticketClassified(let p): p
        case .levelChanged(let p): p
        case .commentSplitOff(let p): p
        case .ticketMerged(let p): p
        case .duplicateMergedIn(let p): p
        case .markedAsSpam(let p): p
        case .timeLogged(let p): p
        case .answerEvaluated(let p): p
        case .answerRated(let p): p
        }
    }

    /// The event's place in `payloadTypes` (so its type name is `payloadTypes[kindIndex].type`),
    /// without boxing the payload as `type` does. A test checks it for every kind.
    public var kindIndex: Int {
        switch self {
        case .accountCreated: 0
        case .staffAdded: 1
        case .staffChanged: 2
        case .brainMembersSet: 3
        case .calendarDefined: 4
        case .slaTierDefined: 5
        case .escalationRuleSet: 6
        case .visibilitySet: 7
        case .payrollFormulaPublished: 8
        case .tokenIssued: 9
        case .tokenRevoked: 10
        case .organisationCreated: 11
        case .organisationChanged: 12
        case .premiumQuotaPurchased: 13
        case .premiumQuotaUsed: 14
        case .contactCreated: 15
        case .contactChanged: 16
        case .contactEmailAttached: 17
        case .contactPhoneAttached: 18
        case .contactMerged: 19
        case .contactAbsorbed: 20
        case .portalAccessChanged: 21
        case .contactNoteAdded: 22
        case .ticketOpened: 23
        case .ticketAccepted: 24
        case .participantAdded: 25
        case .participantRemoved: 26
        case .ticketReassigned: 27
        case .ticketEscalated: 28
        case .commentAdded: 29
        case .deliveryRecorded: 30
        case .mailReceived: 31
        case .statusChanged: 32
        case .ticketClassified: 33
        case .levelChanged: 34
        case .commentSplitOff: 35
        case .ticketMerged: 36
        case .duplicateMergedIn: 37
        case .markedAsSpam: 38
        case .timeLogged: 39
        case .answerEvaluated: 40
        case .answerRated: 41
        }
    }

    public var type: String { Swift.type(of: payload).type }

    /// The stream the event belongs to.
    public var stream: String {
        switch self {
        case .accountCreated, .staffAdded, .staffChanged, .brainMembersSet, .calendarDefined, .slaTierDefined,
             .escalationRuleSet, .visibilitySet, .payrollFormulaPublished, .tokenIssued, .tokenRevoked:
            return Streams.account
        case .organisationCreated(let e): return Streams.organisation(e.organisation)
        case .organisationChanged(let e): return Streams.organisation(e.organisation)
        case .premiumQuotaPurchased(let e): return Streams.organisation(e.organisation)
        case .premiumQuotaUsed(let e): return Streams.organisation(e.organisation)
        case .contactCreated(let e): return Streams.contact(e.contact)
        case .contactChanged(let e): return Streams.contact(e.contact)
        case .contactEmailAttached(let e): return Streams.contact(e.contact)
        case .contactPhoneAttached(let e): return Streams.contact(e.contact)
        case .contactMerged(let e): return Streams.contact(e.contact)
        case .contactAbsorbed(let e): return Streams.contact(e.contact)
        case .portalAccessChanged(let e): return Streams.contact(e.contact)
        case .contactNoteAdded(let e): return Streams.contact(e.contact)
        case .mailReceived(let e): return e.ticket.map(Streams.ticket) ?? Streams.mail
        default:
            guard let t = ticket else { fatalError("unreachable: every remaining event is a ticket event") }
            return Streams.ticket(t)
        }
    }

    /// The ticket a ticket event belongs to.
    public var ticket: TicketNumber? {
        switch self {
        case .ticketOpened(let e): e.ticket
        case .ticketAccepted(let e): e.ticket
        case .participantAdded(let e): e.ticket
        case .participantRemoved(let e): e.ticket
        case .ticketReassigned(let e): e.ticket
        case .ticketEscalated(let e): e.ticket
        case .commentAdded(let e): e.ticket
        case .deliveryRecorded(let e): e.ticket
        case .mailReceived(let e): e.ticket
        case .statusChanged(let e): e.ticket
        case .ticketClassified(let e): e.ticket
        case .levelChanged(let e): e.ticket
        case .commentSplitOff(let e): e.ticket
        case .ticketMerged(let e): e.ticket
        case .duplicateMergedIn(let e): e.ticket
        case .markedAsSpam(let e): e.ticket
        case .timeLogged(let e): e.ticket
        case .answerEvaluated(let e): e.ticket
        case .answerRated(let e): e.ticket
        default: nil
        }
    }
}

/// Stream names.
public enum Streams {
    public static let account = "account"
    /// Mail set aside without a ticket (bounces, auto-replies from strangers, bulk mail).
    public static let mail = "mail"
    public static func organisation(_ id: OrganisationId) -> String { "org-" + id }
    public static func contact(_ id: ContactId) -> String { "contact-" + id }
    public static func ticket(_ n: TicketNumber) -> String { "ticket-\(n)" }

    /// The ticket number in a ticket stream's name.
    public static func ticketNumber(_ stream: String) -> TicketNumber? {
        stream.hasPrefix("ticket-") ? Int(stream.dropFirst(7)) : nil
    }
}
