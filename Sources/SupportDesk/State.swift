import BusinessTime
import Foundation

// The state commands are decided against: a left fold of the events (`evolve`). The same fold runs
// live in the command processor and when replaying the log, and a property test checks they agree.

public struct StaffMember: Sendable, Hashable, Codable {
    public var id: StaffId
    public var name: String
    public var email: String
    public var role: Role
    public var isDeveloper: Bool
    public var signature: String?
    public var active: Bool
}

public struct TokenGrant: Sendable, Hashable, Codable {
    public var party: Party
    public var label: String
}

public struct FormulaVersion: Sendable, Hashable, Codable {
    public var version: Int
    public var effectiveFrom: LocalDate
    public var source: String
    public var note: String?
}

/// Account configuration (stream `account`).
public struct AccountState: Sendable, Hashable, Codable {
    public var version: UInt64 = 0
    public var created = false
    public var name = ""
    public var timeZone = "UTC"
    public var defaultLanguage = "en"
    public var staff: [StaffId: StaffMember] = [:]
    public var brain: [StaffId] = []
    public var calendars: [String: BusinessCalendar] = [:]
    public var tiers: [String: SLATier] = [:]
    public var defaultTier: String?
    public var escalation: EscalationRule?
    public var visibility = VisibilitySettings()
    public var formulas: [FormulaVersion] = []
    /// SHA-256 (hex) of each live token → who it is.
    public var tokens: [String: TokenGrant] = [:]

    public init() {}

    /// Active staff who can work tickets (not auditors).
    public var workingStaff: [StaffId] {
        staff.values.filter { $0.active && $0.role >= .staff }.map(\.id).sorted()
    }

    /// The formula in force on `date` (the latest version effective on or before it).
    public func formula(on date: LocalDate) -> FormulaVersion? {
        formulas.filter { $0.effectiveFrom <= date }.max { ($0.effectiveFrom, $0.version) < ($1.effectiveFrom, $1.version) }
    }
}

public struct OrganisationState: Sendable, Hashable, Codable {
    public var id: OrganisationId
    public var version: UInt64 = 0
    public var name: String
    public var tierId: String?
    public var domains: [String]
    public var premiumBought = 0
    public var premiumUsed = 0
    public var premiumLeft: Int { premiumBought - premiumUsed }
}

public struct ContactState: Sendable, Hashable, Codable {
    public var id: ContactId
    public var version: UInt64 = 0
    public var name: String
    public var emails: [String]
    public var phones: [String]
    public var organisation: OrganisationId?
    public var language: String
    public var automatic: Bool
    public var portalAccess = false
    public var mergedInto: ContactId?
    public var notes = 0
}

public struct CommentState: Sendable, Hashable, Codable {
    public var number: CommentNumber
    public var author: Party
    public var text: String
    public var isInternal: Bool
    public var notify: [Party]
    public var attachments: [AttachmentRef]
    public var at: Date
}

public struct TicketState: Sendable, Hashable, Codable {
    public var number: TicketNumber
    public var version: UInt64 = 0
    public var status: TicketStatus = .new
    public var channel: Channel
    public var subject: String
    public var contact: ContactId
    public var organisation: OrganisationId?
    public var language: String
    public var openedAt: Date
    public var premium: Bool
    public var participants: Set<StaffId>
    public var coExecutors: Set<StaffId> = []
    public var responsible: StaffId?
    public var acceptedAt: Date?
    public var level: SupportLevel = .l1
    public var classification = Classification()
    public var tierId: String?
    public var reactionDue: Date?
    public var resolutionDue: Date?
    public var escalationDue: Date?
    public var escalated = false
    public var spam = false
    public var mergedInto: TicketNumber?
    public var merged: [TicketNumber] = []
    public var splitOff: [TicketNumber] = []
    /// Comments already split out into their own tickets.
    public var splitComments: [CommentNumber] = []
    public var origin: TicketOrigin?
    public var comments: [CommentState] = []
    /// First answer to the client by staff (R18 reaction).
    public var firstResponseAt: Date?
    public var resolvedAt: Date?
    public var closedAt: Date?
    public var evaluations: [StaffId: AnswerEvaluation] = [:]
    public var loggedMinutes: [StaffId: Int] = [:]
    /// Client ratings (R24), in order.
    public var ratingScores: [Int] = []
    public var deliveries: [String: DeliveryStatus] = [:]
    /// The Message-ID of the last e-mail threaded into the ticket (for In-Reply-To of answers).
    public var lastMessageId: String?

    /// Still waiting for the escalation rule: open, nobody responsible, not yet escalated.
    public var awaitsEscalation: Bool {
        escalationDue != nil && responsible == nil && !escalated && status.isOpen && !spam && mergedInto == nil
    }

    /// Whether `staff` is among `staffInvolved`, without building the set.
    public func involves(_ staff: StaffId) -> Bool {
        responsible == staff || participants.contains(staff) || coExecutors.contains(staff)
    }

    /// Everyone the desk may notify about this ticket.
    public var staffInvolved: Set<StaffId> {
        var s = participants.union(coExecutors)
        if let r = responsible { s.insert(r) }
        return s
    }
}

extension TicketState {
    /// As the synthesized encoding, field for field, except that the participant and co-executor
    /// sets are written sorted: a set's own order depends on the process (hashing is seeded per
    /// process), and the API's JSON of one ticket version must be the same bytes wherever and
    /// whenever it is made (its ETag is the version). Decoding is the synthesized one (any order).
    /// `FastCompact`'s writer sorts them the same way.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(number, forKey: .number)
        try c.encode(version, forKey: .version)
        try c.encode(status, forKey: .status)
        try c.encode(channel, forKey: .channel)
        try c.encode(subject, forKey: .subject)
        try c.encode(contact, forKey: .contact)
        try c.encodeIfPresent(organisation, forKey: .organisation)
        try c.encode(language, forKey: .language)
        try c.encode(openedAt, forKey: .openedAt)
        try c.encode(premium, forKey: .premium)
        try c.encode(participants.sorted(), forKey: .participants)
        try c.encode(coExecutors.sorted(), forKey: .coExecutors)
        try c.encodeIfPresent(responsible, forKey: .responsible)
        try c.encodeIfPresent(acceptedAt, forKey: .acceptedAt)
        try c.encode(level, forKey: .level)
        try c.encode(classification, forKey: .classification)
        try c.encodeIfPresent(tierId, forKey: .tierId)
        try c.encodeIfPresent(reactionDue, forKey: .reactionDue)
        try c.encodeIfPresent(resolutionDue, forKey: .resolutionDue)
        try c.encodeIfPresent(escalationDue, forKey: .escalationDue)
        try c.encode(escalated, forKey: .escalated)
        try c.encode(spam, forKey: .spam)
        try c.encodeIfPresent(mergedInto, forKey: .mergedInto)
        try c.encode(merged, forKey: .merged)
        try c.encode(splitOff, forKey: .splitOff)
        try c.encode(splitComments, forKey: .splitComments)
        try c.encodeIfPresent(origin, forKey: .origin)
        try c.encode(comments, forKey: .comments)
        try c.encodeIfPresent(firstResponseAt, forKey: .firstResponseAt)
        try c.encodeIfPresent(resolvedAt, forKey: .resolvedAt)
        try c.encodeIfPresent(closedAt, forKey: .closedAt)
        try c.encode(evaluations, forKey: .evaluations)
        try c.encode(loggedMinutes, forKey: .loggedMinutes)
        try c.encode(ratingScores, forKey: .ratingScores)
        try c.encode(deliveries, forKey: .deliveries)
        try c.encodeIfPresent(lastMessageId, forKey: .lastMessageId)
    }
}

/// Everything the desk decides against. The command processor holds the account, organisations and
/// contacts whole and tickets in a bounded cache; tests hold everything.
public struct DeskState: Sendable, Hashable {
    public var account = AccountState()
    public var organisations: [OrganisationId: OrganisationState] = [:]
    public var contacts: [ContactId: ContactState] = [:]
    public var tickets: [TicketNumber: TicketState] = [:]
    /// Normalised e-mail → contact, and phone → contact (merged contacts resolve to their survivor).
    public var contactByEmail: [String: ContactId] = [:]
    public var contactByPhone: [String: ContactId] = [:]
    /// The highest ticket number seen.
    public var lastTicketNumber: TicketNumber = 0
    /// The version of the `mail` stream (mail set aside without a ticket).
    public var mailVersion: UInt64 = 0

    public init() {}

    /// A contact id with merges followed to the surviving contact.
    public func survivor(of contact: ContactId) -> ContactId {
        var id = contact
        var hops = 0
        while let next = contacts[id]?.mergedInto, hops < 100 {
            id = next
            hops += 1
        }
        return id
    }

    /// R12/R26: a contact reaches their own tickets (through merges) and, with organisation sharing on,
    /// their organisation's. The one rule behind command checks, the client view and the audits.
    public func contactReaches(_ contact: ContactId, _ t: TicketState) -> Bool {
        let me = survivor(of: contact)
        if survivor(of: t.contact) == me { return true }
        if account.visibility.organisationSharing, let org = t.organisation, contacts[me]?.organisation == org { return true }
        return false
    }

    /// Applies one event. `at` is the event's time from the log.
    public mutating func evolve(_ event: DeskEvent, at: Date) {
        if let n = event.ticket {
            // An event of a ticket changes that ticket only (and the highest number, when it opens one).
            Self.evolve(&tickets[n], event, at: at)
            noteTicketNumber(of: event)
            return
        }
        switch event {
        case .accountCreated(let e):
            account.created = true
            account.name = e.name
            account.timeZone = e.timeZone
            account.defaultLanguage = e.defaultLanguage
        case .staffAdded(let e):
            account.staff[e.staff] = StaffMember(id: e.staff, name: e.name, email: e.email, role: e.role,
                                                 isDeveloper: e.isDeveloper, signature: nil, active: true)
        case .staffChanged(let e):
            guard var m = account.staff[e.staff] else { break }
            if let v = e.name { m.name = v }
            if let v = e.email { m.email = v }
            if let v = e.role { m.role = v }
            if let v = e.isDeveloper { m.isDeveloper = v }
            if let v = e.signature { m.signature = v.isEmpty ? nil : v }
            if let v = e.active { m.active = v }
            account.staff[e.staff] = m
        case .brainMembersSet(let e): account.brain = e.members
        case .calendarDefined(let e): account.calendars[e.calendar.id] = e.calendar
        case .slaTierDefined(let e):
            account.tiers[e.tier.id] = e.tier
            if e.isDefault { account.defaultTier = e.tier.id }
        case .escalationRuleSet(let e): account.escalation = e.rule
        case .visibilitySet(let e): account.visibility = e.settings
        case .payrollFormulaPublished(let e):
            account.formulas.append(FormulaVersion(version: e.version, effectiveFrom: e.effectiveFrom, source: e.source, note: e.note))
        case .tokenIssued(let e): account.tokens[e.hash] = TokenGrant(party: e.party, label: e.label)
        case .tokenRevoked(let e): account.tokens[e.hash] = nil
        case .organisationCreated(let e):
            organisations[e.organisation] = OrganisationState(id: e.organisation, name: e.name, tierId: e.tierId, domains: e.domains)
        case .organisationChanged(let e):
            if let v = e.name { organisations[e.organisation]?.name = v }
            if let v = e.tierId { organisations[e.organisation]?.tierId = v.isEmpty ? nil : v }
            if let v = e.domains { organisations[e.organisation]?.domains = v }
        case .premiumQuotaPurchased(let e): organisations[e.organisation]?.premiumBought += e.tickets
        case .premiumQuotaUsed(let e): organisations[e.organisation]?.premiumUsed += 1
        case .contactCreated(let e):
            contacts[e.contact] = ContactState(id: e.contact, name: e.name, emails: e.emails, phones: e.phones,
                                               organisation: e.organisation, language: e.language, automatic: e.automatic)
            for m in e.emails { contactByEmail[normalisedEmail(m)] = e.contact }
            for p in e.phones { contactByPhone[normalisedPhone(p)] = e.contact }
        case .contactChanged(let e):
            if let v = e.name { contacts[e.contact]?.name = v }
            if let v = e.language { contacts[e.contact]?.language = v }
            if let v = e.organisation { contacts[e.contact]?.organisation = v.isEmpty ? nil : v }
        case .contactEmailAttached(let e):
            contacts[e.contact]?.emails.append(e.email)
            contactByEmail[normalisedEmail(e.email)] = e.contact
        case .contactPhoneAttached(let e):
            contacts[e.contact]?.phones.append(e.phone)
            contactByPhone[normalisedPhone(e.phone)] = e.contact
        case .contactMerged(let e):
            contacts[e.contact]?.mergedInto = e.into
        case .contactAbsorbed(let e):
            contacts[e.contact]?.emails.append(contentsOf: e.emails)
            contacts[e.contact]?.phones.append(contentsOf: e.phones)
            for m in e.emails { contactByEmail[normalisedEmail(m)] = e.contact }
            for p in e.phones { contactByPhone[normalisedPhone(p)] = e.contact }
        case .portalAccessChanged(let e): contacts[e.contact]?.portalAccess = e.granted
        case .contactNoteAdded(let e): contacts[e.contact]?.notes += 1
        default: break
        }
        bumpVersion(of: event)
    }

    /// What a ticket's event does besides changing its ticket: one that opens a ticket moves the
    /// highest number. (The desk view, which keeps its tickets apart, calls this and the next.)
    public mutating func noteTicketNumber(of event: DeskEvent) {
        if case .ticketOpened(let e) = event { lastTicketNumber = max(lastTicketNumber, e.ticket) }
    }

    /// What `evolve` does to the ticket of a ticket's event (`event.ticket`), given that ticket's slot:
    /// the desk view keeps its tickets in a table of its own and folds them in place through this.
    public static func evolve(_ ticket: inout TicketState?, _ event: DeskEvent, at: Date) {
        if case .ticketOpened(let e) = event {
            ticket = TicketState(opening: e, at: at)
        } else {
            ticket?.apply(event, at: at)
            ticket?.version += 1
        }
    }

    private mutating func bumpVersion(of event: DeskEvent) {
        switch event {
        case .accountCreated, .staffAdded, .staffChanged, .brainMembersSet, .calendarDefined, .slaTierDefined,
             .escalationRuleSet, .visibilitySet, .payrollFormulaPublished, .tokenIssued, .tokenRevoked:
            account.version += 1
        case .organisationCreated(let e): organisations[e.organisation]?.version += 1
        case .organisationChanged(let e): organisations[e.organisation]?.version += 1
        case .premiumQuotaPurchased(let e): organisations[e.organisation]?.version += 1
        case .premiumQuotaUsed(let e): organisations[e.organisation]?.version += 1
        case .contactCreated(let e): contacts[e.contact]?.version += 1
        case .contactChanged(let e): contacts[e.contact]?.version += 1
        case .contactEmailAttached(let e): contacts[e.contact]?.version += 1
        case .contactPhoneAttached(let e): contacts[e.contact]?.version += 1
        case .contactMerged(let e): contacts[e.contact]?.version += 1
        case .contactAbsorbed(let e): contacts[e.contact]?.version += 1
        case .portalAccessChanged(let e): contacts[e.contact]?.version += 1
        case .contactNoteAdded(let e): contacts[e.contact]?.version += 1
        case .mailReceived(let e) where e.ticket == nil: mailVersion += 1
        default: break  // a ticket's event: `evolve(_:_:at:)`
        }
    }
}

extension TicketState {
    /// The ticket `e` opens, as `DeskState.evolve` makes it (version 1): a function of the event
    /// alone. `participants`, `notify`: `Set(e.participants)` and the first comment's notify list
    /// (`openingNotify`), when the caller made them already (a rebuild makes them on the thread
    /// that reads the log, shared between tickets: `DeskView.PreparedOpenings`).
    public init(opening e: TicketOpened, at: Date, participants: Set<StaffId>? = nil, notify: [Party]? = nil) {
        self.init(number: e.ticket, channel: e.channel, subject: e.subject, contact: e.contact,
                  organisation: e.organisation, language: e.language, openedAt: at, premium: e.premium,
                  participants: participants ?? Set(e.participants))
        tierId = e.tierId
        reactionDue = e.reactionDue
        resolutionDue = e.resolutionDue
        escalationDue = e.escalationDue
        origin = e.origin
        comments = [CommentState(number: 1, author: e.openedBy, text: e.body, isInternal: false,
                                 notify: notify ?? TicketState.openingNotify(e), attachments: e.attachments, at: at)]
        version = 1
    }

    /// The opening message goes to the staff on the ticket and, for the record, to its author.
    public static func openingNotify(_ e: TicketOpened) -> [Party] {
        var out: [Party] = []
        out.reserveCapacity(e.participants.count + 2)  // (appending past `map`'s exact size reallocated)
        for s in e.participants.sorted() { out.append(.staff(s)) }
        if case .staff = e.openedBy, !out.contains(e.openedBy) { out.append(e.openedBy) }
        out.append(.contact(e.contact))
        return out
    }

    /// Applies a ticket event other than `TicketOpened`.
    mutating func apply(_ event: DeskEvent, at: Date) {
        switch event {
        case .ticketAccepted(let e):
            responsible = e.by
            acceptedAt = at
            participants.insert(e.by)
            if status == .new || status == .reopened { status = .accepted }
        case .participantAdded(let e):
            switch e.role {
            case .participant: participants.insert(e.staff)
            case .coExecutor: coExecutors.insert(e.staff)
            }
        case .participantRemoved(let e):
            switch e.role {
            case .participant: participants.remove(e.staff)
            case .coExecutor: coExecutors.remove(e.staff)
            }
        case .ticketReassigned(let e):
            responsible = e.to
            participants.insert(e.to)
            if acceptedAt == nil { acceptedAt = at }
            if status == .new || status == .reopened { status = .accepted }
        case .ticketEscalated(let e):
            escalated = true
            coExecutors.insert(e.manager)
        case .commentAdded(let e):
            comments.append(CommentState(number: e.comment, author: e.author, text: e.text, isInternal: e.isInternal,
                                         notify: e.notify, attachments: e.attachments, at: at))
            if firstResponseAt == nil, !e.isInternal, e.author.staffId != nil { firstResponseAt = at }
        case .deliveryRecorded(let e):
            deliveries["\(e.comment)/\(e.recipient)"] = e.status
        case .mailReceived(let e):
            if e.comment != nil { lastMessageId = e.messageId }
        case .statusChanged(let e):
            status = e.to
            switch e.to {
            case .resolved: resolvedAt = at
            case .closed: closedAt = at
            case .reopened: resolvedAt = nil; closedAt = nil
            default: break
            }
        case .ticketClassified(let e): classification = e.classification
        case .levelChanged(let e): level = e.to
        case .commentSplitOff(let e):
            splitOff.append(e.newTicket)
            splitComments.append(e.comment)
        case .ticketMerged(let e): mergedInto = e.into
        case .duplicateMergedIn(let e): merged.append(e.duplicate)
        case .markedAsSpam: spam = true
        case .timeLogged(let e): loggedMinutes[e.staff, default: 0] += e.minutes
        case .answerEvaluated(let e): evaluations[e.staff] = e.evaluation
        case .answerRated(let e): ratingScores.append(e.score)
        default: break
        }
    }

    /// The recipients of the last comment: the default notify set of the next one (R11).
    public var lastRecipients: [Party] { comments.last?.notify ?? [] }
}
