import BusinessTime
import Foundation

/// A request to change something, from someone. Decided against `DeskState` by `Desk.decide`.
public struct Command: Sendable, Hashable, Codable {
    /// Optional idempotency key: a retry with the same id returns the first result and writes nothing.
    public var id: String?
    /// Who is asking; every command checks it.
    public var actor: Party
    /// The command's time, for trusted callers only (import, the generator); otherwise the processor's clock.
    public var at: Date?
    /// Optimistic concurrency (HTTP `If-Match`): the version the caller last saw of the command's
    /// first ticket; a command on a ticket that has moved on is refused and writes nothing.
    public var expectedVersion: UInt64?
    public var body: CommandBody

    public init(id: String? = nil, actor: Party, at: Date? = nil, _ body: CommandBody) {
        self.id = id
        self.actor = actor
        self.at = at
        self.body = body
    }
}

extension Command {
    /// A stable fingerprint of who asks for what (FNV-1a over the compact encoding of actor and body).
    public var fingerprint: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let bytes = (try? CompactCoding.encode(body)) ?? []
        for b in Array(actor.description.utf8) + [0] + bytes {
            h ^= UInt64(b)
            h &*= 0x100_0000_01b3
        }
        return h
    }
}

/// Who a new ticket is from.
public enum ContactRef: Sendable, Hashable, Codable {
    case id(ContactId)
    /// An address; an unknown one becomes a new contact (R4).
    case email(String, name: String?)
    /// A phone number (phone tickets, R1/R3); an unknown one becomes a new contact.
    case phone(String, name: String?)
}

public struct OpenTicket: Sendable, Hashable, Codable {
    public var channel: Channel
    public var subject: String
    public var body: String
    /// nil: the contact who is asking.
    public var contact: ContactRef?
    public var organisation: OrganisationId?
    public var language: String?
    public var premium: Bool
    public var attachments: [AttachmentRef]
    public var externalId: String?

    public init(channel: Channel, subject: String, body: String, contact: ContactRef? = nil,
                organisation: OrganisationId? = nil, language: String? = nil, premium: Bool = false,
                attachments: [AttachmentRef] = [], externalId: String? = nil) {
        self.channel = channel
        self.subject = subject
        self.body = body
        self.contact = contact
        self.organisation = organisation
        self.language = language
        self.premium = premium
        self.attachments = attachments
        self.externalId = externalId
    }
}

/// A received e-mail, parsed and threaded by the mail intake (R1, R3, R4). The desk decides what it
/// becomes: a comment on the ticket it threads into, a new ticket, or — for automatic mail — a record
/// only (no ticket, no answer, so mail loops cannot start).
public struct InboundMail: Sendable, Hashable, Codable {
    /// Message-ID without angle brackets (the intake makes one from the raw hash when it is missing).
    public var messageId: String
    public var from: String
    public var fromName: String?
    public var subject: String
    /// The new text of the message (the quoted earlier message removed; the whole text for a new ticket).
    public var text: String
    public var attachments: [AttachmentRef]
    /// SHA-256 of the raw message in the blob store.
    public var raw: String
    /// Why the message is automatic (auto-reply, bulk, bounce, our own message), or nil for a person's mail.
    public var automatic: String?
    /// The ticket a verified reference names: our signed token in In-Reply-To / References, or a
    /// Message-ID already recorded on a ticket. Accepted from any sender (it proves they got the thread).
    public var thread: TicketNumber?
    /// How `thread` was found (`token` or `reference`).
    public var threadVia: String?
    /// A ticket number written in the subject (`[#123]`): accepted only from a sender who already takes
    /// part in that ticket or belongs to its organisation.
    public var subjectTicket: TicketNumber?
    public var language: String?
    /// The whole text, quote included, when `text` is only the new part: a new ticket gets this.
    public var wholeText: String?

    public init(messageId: String, from: String, fromName: String? = nil, subject: String, text: String,
                attachments: [AttachmentRef] = [], raw: String, automatic: String? = nil, thread: TicketNumber? = nil,
                threadVia: String? = nil, subjectTicket: TicketNumber? = nil, language: String? = nil, wholeText: String? = nil) {
        self.wholeText = wholeText
        self.messageId = messageId
        self.from = from
        self.fromName = fromName
        self.subject = subject
        self.text = text
        self.attachments = attachments
        self.raw = raw
        self.automatic = automatic
        self.thread = thread
        self.threadVia = threadVia
        self.subjectTicket = subjectTicket
        self.language = language
    }
}

public enum CommandBody: Sendable, Hashable, Codable {
    // Account configuration (admins; managers for calendars, SLA, escalation, visibility, formula).
    case createAccount(name: String, timeZone: String, defaultLanguage: String, admin: StaffId, adminName: String, adminEmail: String)
    case addStaff(id: StaffId, name: String, email: String, role: Role, isDeveloper: Bool)
    case changeStaff(id: StaffId, name: String?, email: String?, role: Role?, isDeveloper: Bool?, signature: String?, active: Bool?)
    case setBrain(members: [StaffId])
    case defineCalendar(BusinessCalendar)
    case defineSLATier(SLATier, isDefault: Bool)
    case setEscalationRule(EscalationRule?)
    case setVisibility(VisibilitySettings)
    case publishFormula(effectiveFrom: LocalDate, source: String, note: String?)
    /// Records a token by its SHA-256 (hex); the token itself is never stored. Staff tokens: admins
    /// (or the desk at start-up); a contact's (portal invitation): staff, for a contact with portal access.
    case issueToken(hash: String, party: Party, label: String)
    /// Admins revoke any token; anyone revokes their own (sign-out).
    case revokeToken(hash: String)
    // Organisations and contacts.
    case createOrganisation(id: OrganisationId, name: String, tierId: String?, domains: [String])
    case changeOrganisation(id: OrganisationId, name: String?, tierId: String?, domains: [String]?)
    case buyPremiumQuota(organisation: OrganisationId, tickets: Int, note: String?)
    case createContact(id: ContactId, name: String, emails: [String], phones: [String], organisation: OrganisationId?, language: String?)
    case changeContact(id: ContactId, name: String?, language: String?, organisation: OrganisationId?)
    case attachEmail(contact: ContactId, email: String)
    case attachPhone(contact: ContactId, phone: String)
    case mergeContacts(duplicate: ContactId, into: ContactId)
    case setPortalAccess(contact: ContactId, granted: Bool)
    case addContactNote(contact: ContactId, text: String)
    // Tickets.
    case openTicket(OpenTicket)
    case acceptTicket(ticket: TicketNumber)
    case addParticipant(ticket: TicketNumber, staff: StaffId, role: ParticipantRole)
    case removeParticipant(ticket: TicketNumber, staff: StaffId, role: ParticipantRole)
    case reassign(ticket: TicketNumber, to: StaffId)
    /// `notify` nil: the previous comment's recipients (R11).
    case comment(ticket: TicketNumber, text: String, internal: Bool, notify: [Party]?, attachments: [AttachmentRef],
                 channel: Channel?, externalId: String?)
    case recordDelivery(ticket: TicketNumber, comment: CommentNumber, recipient: Party, status: DeliveryStatus, detail: String?)
    /// To waiting-for-client, postponed, resolved, accepted (resume) or reopened; closing is `close`.
    case changeStatus(ticket: TicketNumber, to: TicketStatus, reason: String?, until: Date?)
    /// Closes; the responsible staff member who answered the client must evaluate the answer (R22).
    case close(ticket: TicketNumber, evaluation: AnswerEvaluation?, reason: String?)
    case classify(ticket: TicketNumber, Classification)
    case changeLevel(ticket: TicketNumber, to: SupportLevel)
    case splitComment(ticket: TicketNumber, comment: CommentNumber, subject: String?)
    case mergeTicket(duplicate: TicketNumber, into: TicketNumber)
    case markSpam(ticket: TicketNumber)
    case logTime(ticket: TicketNumber, minutes: Int, on: LocalDate?, note: String?)
    case rateAnswer(ticket: TicketNumber, comment: CommentNumber?, score: Int, text: String?)
    /// The escalation timer's command (system only).
    case escalate(ticket: TicketNumber)
    /// An e-mail from the mail intake (the desk's mail gateway or an admin).
    case receiveMail(InboundMail)

    /// A short name for logs and metrics.
    public var name: String {
        let mirror = Mirror(reflecting: self)
        return mirror.children.first?.label ?? "\(self)"
    }

    /// The tickets this command reads or writes (the processor loads them first).
    public var tickets: [TicketNumber] {
        switch self {
        case .acceptTicket(let t), .addParticipant(let t, _, _), .removeParticipant(let t, _, _), .reassign(let t, _),
             .comment(let t, _, _, _, _, _, _), .recordDelivery(let t, _, _, _, _), .changeStatus(let t, _, _, _),
             .close(let t, _, _), .classify(let t, _), .changeLevel(let t, _), .splitComment(let t, _, _),
             .markSpam(let t), .logTime(let t, _, _, _), .rateAnswer(let t, _, _, _), .escalate(let t):
            return [t]
        case .mergeTicket(let a, let b):
            return [a, b]
        case .receiveMail(let m):
            return [m.thread, m.subjectTicket].compactMap { $0 }
        default:
            return []
        }
    }
}

/// What a successful command answers besides its events.
public struct CommandOutcome: Sendable, Hashable, Codable {
    public var ticket: TicketNumber?
    public var comment: CommentNumber?
    public var contact: ContactId?
    public var formulaVersion: Int?
    /// Positions in the log, filled in by the processor.
    public var sequences: [UInt64] = []
    /// Stream versions after the command, keyed by stream (for ETags).
    public var versions: [String: UInt64] = [:]
    /// A fingerprint of the command that produced this outcome (for idempotency keys reused with a
    /// different command); nil in outcomes stored by earlier builds.
    public var commandFingerprint: UInt64?

    public init(ticket: TicketNumber? = nil, comment: CommentNumber? = nil, contact: ContactId? = nil, formulaVersion: Int? = nil) {
        self.ticket = ticket
        self.comment = comment
        self.contact = contact
        self.formulaVersion = formulaVersion
    }
}

/// A decided command: the events to append, in order, and the outcome.
public struct Decision: Sendable, Hashable {
    public var events: [DeskEvent]
    public var outcome: CommandOutcome
}

/// Why a command was refused, in plain words. `code` maps to an HTTP status at the edge.
public struct DomainError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, Codable {
        /// The request itself is malformed (400/422).
        case invalid
        /// Something it names does not exist (404).
        case notFound = "not-found"
        /// The actor may not do this (403).
        case forbidden
        /// It conflicts with the current state, e.g. already accepted or already exists (409).
        case conflict
        /// The ticket's status does not allow it (409).
        case illegalTransition = "illegal-transition"
        /// The caller's `If-Match` version is no longer current (412).
        case preconditionFailed = "precondition-failed"
    }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
