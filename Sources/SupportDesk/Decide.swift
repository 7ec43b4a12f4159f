import BusinessTime
import Foundation
import PayrollFormula

/// The desk's rules: decides a command against the state, producing events or a `DomainError`.
/// Pure: no I/O, no clock (the time comes in), no randomness.
public enum Desk {
    public static let maxSubjectLength = 500
    public static let maxTextLength = 200_000
    public static let maxIdLength = 100

    /// Decides `command` at `at` against `state`. The tickets the command names must be in `state`.
    public static func decide(_ command: Command, at: Date, state: DeskState) throws(DomainError) -> Decision {
        var d = Decider(state: state, actor: command.actor, at: at)
        return try d.run(command.body)
    }

    /// Rounds an instant down to a whole second (dates inside events are whole seconds).
    public static func wholeSeconds(_ d: Date) -> Date {
        Date(timeIntervalSince1970: (d.timeIntervalSince1970).rounded(.down))
    }

    /// Due times for a ticket opened at `at` by a contact of `organisation` (R18, R19, R9).
    public static func dueTimes(state: DeskState, organisation: OrganisationId?, at: Date)
        -> (tier: String?, reaction: Date?, resolution: Date?, escalation: Date?) {
        let tierId = organisation.flatMap { state.organisations[$0]?.tierId } ?? state.account.defaultTier
        let tier = tierId.flatMap { state.account.tiers[$0] }
        // Prepared once: the zone and intervals are resolved for the (up to) three sums below.
        let calendar = (tier.flatMap { state.account.calendars[$0.calendarId] } ?? .twentyFourSeven()).prepared()
        func add(_ hours: Double) -> Date? {
            let due = calendar.adding(businessSeconds: Int64((hours * 3600).rounded()), to: at)
            return due == BusinessCalendar.never ? nil : wholeSeconds(due)
        }
        return (tier?.id, tier.flatMap { add($0.reactionHours) }, tier.flatMap { add($0.resolutionHours) },
                state.account.escalation.flatMap { add($0.afterBusinessHours) })
    }
}

private func fail(_ code: DomainError.Code, _ message: String) -> DomainError { DomainError(code, message) }

struct Decider {
    let state: DeskState
    let actor: Party
    let at: Date
    var events: [DeskEvent] = []
    var outcome = CommandOutcome()
    /// Contacts created by this command so far (a ticket from an unknown sender creates its contact
    /// first). The state itself is never copied: a decision reads it and this overlay only.
    var createdContacts: [ContactId: ContactState] = [:]

    init(state: DeskState, actor: Party, at: Date) {
        self.state = state
        self.actor = actor
        self.at = at
    }

    mutating func emit(_ e: DeskEvent) {
        events.append(e)
        if case .contactCreated(let c) = e {
            createdContacts[c.contact] = ContactState(id: c.contact, name: c.name, emails: c.emails, phones: c.phones,
                                                      organisation: c.organisation, language: c.language, automatic: c.automatic)
        }
    }

    mutating func run(_ body: CommandBody) throws(DomainError) -> Decision {
        // Every party must survive its own encoding (an empty id would make its events unreadable).
        guard Party(actor.description) == actor else { throw fail(.invalid, "'\(actor)' is not a valid actor") }
        if case .createAccount = body {} else if !state.account.created {
            throw fail(.conflict, "the account has not been created yet")
        }
        switch body {
        case let .createAccount(name, timeZone, language, admin, adminName, adminEmail):
            guard !state.account.created else { throw fail(.conflict, "the account already exists") }
            guard case .system = actor else { throw fail(.forbidden, "only the desk itself creates the account") }
            try text(name, "account name", max: 200)
            guard TimeZone(identifier: timeZone) != nil else { throw fail(.invalid, "unknown time zone '\(timeZone)'") }
            try identifier(admin, "admin id")
            try text(adminName, "admin name", max: 200)
            try email(adminEmail)
            emit(.accountCreated(AccountCreated(name: name, timeZone: timeZone, defaultLanguage: language)))
            emit(.staffAdded(StaffAdded(staff: admin, name: adminName, email: normalisedEmail(adminEmail), role: .admin, isDeveloper: false)))
        case let .addStaff(id, name, mail, role, developer):
            try requireStaff(.admin)
            try identifier(id, "staff id")
            try text(name, "name", max: 200)
            try email(mail)
            guard state.account.staff[id] == nil else { throw fail(.conflict, "staff member '\(id)' already exists") }
            emit(.staffAdded(StaffAdded(staff: id, name: name, email: normalisedEmail(mail), role: role, isDeveloper: developer)))
        case let .changeStaff(id, name, mail, role, developer, signature, active):
            let me = try requireStaff(.staff)
            guard let member = state.account.staff[id] else { throw fail(.notFound, "no staff member '\(id)'") }
            // Everyone may change their own name and signature; the rest is for admins.
            let onlyOwnProfile = id == me.id && mail == nil && role == nil && developer == nil && active == nil
            if !onlyOwnProfile { try requireStaff(.admin) }
            if let name { try text(name, "name", max: 200) }
            if let mail { try email(mail) }
            if let signature, signature.count > 2000 { throw fail(.invalid, "a signature is at most 2000 characters") }
            if id == me.id, role.map({ $0 < .admin }) == true || active == false, member.role == .admin,
               state.account.staff.values.filter({ $0.role == .admin && $0.active }).count == 1 {
                throw fail(.conflict, "you are the last active admin; appoint another admin first")
            }
            emit(.staffChanged(StaffChanged(staff: id, name: name, email: mail.map(normalisedEmail), role: role,
                                            isDeveloper: developer, signature: signature, active: active)))
        case let .setBrain(members):
            try requireStaff(.manager)
            for m in members where state.account.staff[m] == nil { throw fail(.notFound, "no staff member '\(m)'") }
            emit(.brainMembersSet(BrainMembersSet(members: Array(Set(members)).sorted())))
        case let .defineCalendar(calendar):
            try requireStaff(.manager)
            try identifier(calendar.id, "calendar id")
            let problems = calendar.validate()
            guard problems.isEmpty else { throw fail(.invalid, "the calendar is not valid: " + problems.joined(separator: " ")) }
            emit(.calendarDefined(CalendarDefined(calendar: calendar)))
        case let .defineSLATier(tier, isDefault):
            try requireStaff(.manager)
            try identifier(tier.id, "tier id")
            guard state.account.calendars[tier.calendarId] != nil else { throw fail(.notFound, "no calendar '\(tier.calendarId)'") }
            guard tier.reactionHours > 0, tier.resolutionHours >= tier.reactionHours, tier.resolutionHours <= 24 * 365 else {
                throw fail(.invalid, "targets must be positive hours, resolution not before reaction")
            }
            emit(.slaTierDefined(SLATierDefined(tier: tier, isDefault: isDefault)))
        case let .setEscalationRule(rule):
            try requireStaff(.manager)
            if let rule {
                guard let m = state.account.staff[rule.manager], m.active, m.role >= .staff else {
                    throw fail(.notFound, "no active staff member '\(rule.manager)' to escalate to")
                }
                guard rule.afterBusinessHours > 0, rule.afterBusinessHours <= 24 * 30 else {
                    throw fail(.invalid, "escalation must be after 0 < N ≤ 720 business hours")
                }
            }
            emit(.escalationRuleSet(EscalationRuleSet(rule: rule)))
        case let .setVisibility(settings):
            try requireStaff(.manager)
            emit(.visibilitySet(VisibilitySet(settings: settings)))
        case let .publishFormula(from, source, note):
            try requireStaff(.manager)
            guard from.isValid else { throw fail(.invalid, "effective-from date \(from) does not exist") }
            do { _ = try PayrollFormula(source: source) } catch {
                throw fail(.invalid, "the formula does not parse: \(error)")
            }
            let version = (state.account.formulas.map(\.version).max() ?? 0) + 1
            emit(.payrollFormulaPublished(PayrollFormulaPublished(version: version, effectiveFrom: from, source: source, note: note)))
            outcome.formulaVersion = version
        case let .issueToken(hash, party, label):
            guard hash.count == 64, hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw fail(.invalid, "a token hash is 64 lowercase hex digits (SHA-256)")
            }
            guard state.account.tokens[hash] == nil else { throw fail(.conflict, "this token is already issued") }
            try text(label, "label", max: 200, allowEmpty: true)
            switch party {
            case .staff(let id):
                // Admins issue staff tokens; a signed-in member may also open another session of their own.
                if case .system = actor {} else if actor != party { try requireStaff(.admin) }
                guard state.account.staff[id]?.active == true else { throw fail(.notFound, "no active staff member '\(id)'") }
            case .contact(let id):
                // Staff invite; a signed-in contact may also open another session of their own.
                if case .system = actor {} else if actor != party { try requireStaff(.staff) }
                let c = try liveContact(id)
                guard c.portalAccess else { throw fail(.conflict, "grant \(c.name) portal access first") }
            case .system(let name):
                // The mail gateway (`helpdesk mail ingest`) posts mail with its own token, and nothing else.
                guard name == "mail" else { throw fail(.invalid, "tokens are for staff, contacts and the mail gateway (system:mail)") }
                if case .system = actor {} else { try requireStaff(.admin) }
            }
            emit(.tokenIssued(TokenIssued(hash: hash, party: party, label: label)))
        case let .revokeToken(hash):
            guard let grant = state.account.tokens[hash] else { throw fail(.notFound, "no such token") }
            if grant.party != actor { try requireStaff(.admin) }
            emit(.tokenRevoked(TokenRevoked(hash: hash, by: actor)))
        case let .createOrganisation(id, name, tierId, domains):
            try requireStaff(.staff)
            try identifier(id, "organisation id")
            try text(name, "name", max: 200)
            guard state.organisations[id] == nil else { throw fail(.conflict, "organisation '\(id)' already exists") }
            if let tierId { try requireTier(tierId) }
            emit(.organisationCreated(OrganisationCreated(organisation: id, name: name, tierId: tierId,
                                                          domains: domains.map(normalisedEmail))))
        case let .changeOrganisation(id, name, tierId, domains):
            try requireStaff(.staff)
            guard state.organisations[id] != nil else { throw fail(.notFound, "no organisation '\(id)'") }
            if let name { try text(name, "name", max: 200) }
            if let tierId, !tierId.isEmpty { try requireTier(tierId) }
            if tierId != nil { try requireStaff(.manager) }
            emit(.organisationChanged(OrganisationChanged(organisation: id, name: name, tierId: tierId,
                                                          domains: domains?.map(normalisedEmail))))
        case let .buyPremiumQuota(org, count, note):
            try requireStaff(.manager)
            guard state.organisations[org] != nil else { throw fail(.notFound, "no organisation '\(org)'") }
            guard count > 0, count <= 100_000 else { throw fail(.invalid, "buy 1…100000 premium tickets") }
            emit(.premiumQuotaPurchased(PremiumQuotaPurchased(organisation: org, tickets: count, note: note)))
        case let .createContact(id, name, emails, phones, org, language):
            try requireStaff(.staff)
            try identifier(id, "contact id")
            guard state.contacts[id] == nil else { throw fail(.conflict, "contact '\(id)' already exists") }
            try createContact(id: id, name: name, emails: emails, phones: phones, organisation: org,
                              language: language, automatic: false)
            outcome.contact = id
        case let .changeContact(id, name, language, org):
            let c = try contactForChange(id)
            if let name { try text(name, "name", max: 200) }
            if let org, !org.isEmpty, state.organisations[org] == nil { throw fail(.notFound, "no organisation '\(org)'") }
            if org != nil, actor.staffId == nil { throw fail(.forbidden, "only staff change a contact's organisation") }
            emit(.contactChanged(ContactChanged(contact: c.id, name: name, language: language, organisation: org)))
        case let .attachEmail(contactId, mail):
            try requireStaff(.staff)
            let c = try liveContact(contactId)
            try email(mail)
            if c.emails.map(normalisedEmail).contains(normalisedEmail(mail)) { throw fail(.conflict, "'\(c.id)' already has \(mail)") }
            try addressIsFree(mail, kind: "e-mail address", owner: state.contactByEmail[normalisedEmail(mail)], for: c.id)
            emit(.contactEmailAttached(ContactEmailAttached(contact: c.id, email: normalisedEmail(mail))))
        case let .attachPhone(contactId, phone):
            try requireStaff(.staff)
            let c = try liveContact(contactId)
            let p = normalisedPhone(phone)
            guard p.filter(\.isNumber).count >= 3 else { throw fail(.invalid, "'\(phone)' is not a phone number") }
            if c.phones.map(normalisedPhone).contains(p) { throw fail(.conflict, "'\(c.id)' already has \(phone)") }
            try addressIsFree(phone, kind: "phone", owner: state.contactByPhone[p], for: c.id)
            emit(.contactPhoneAttached(ContactPhoneAttached(contact: c.id, phone: p)))
        case let .mergeContacts(duplicate, into):
            try requireStaff(.staff)
            let dup = try liveContact(duplicate)
            let survivor = try liveContact(into)
            guard dup.id != survivor.id else { throw fail(.invalid, "a contact cannot be merged into itself") }
            emit(.contactMerged(ContactMerged(contact: dup.id, into: survivor.id)))
            emit(.contactAbsorbed(ContactAbsorbed(contact: survivor.id, duplicate: dup.id, emails: dup.emails, phones: dup.phones)))
            if !dup.portalAccess || survivor.portalAccess {} else {
                emit(.portalAccessChanged(PortalAccessChanged(contact: survivor.id, granted: true)))
            }
        case let .setPortalAccess(contactId, granted):
            try requireStaff(.staff)
            let c = try liveContact(contactId)
            guard c.portalAccess != granted else {
                throw fail(.conflict, "portal access of '\(c.id)' is already \(granted ? "granted" : "revoked")")
            }
            emit(.portalAccessChanged(PortalAccessChanged(contact: c.id, granted: granted)))
        case let .addContactNote(contactId, note):
            let me = try requireStaff(.staff)
            let c = try liveContact(contactId)
            try text(note, "note", max: Desk.maxTextLength)
            emit(.contactNoteAdded(ContactNoteAdded(contact: c.id, author: me.id, text: note)))
        case let .openTicket(open):
            try openTicket(open)
        case let .acceptTicket(n):
            let me = try requireStaff(.staff)
            let t = try ticket(n)
            try notMergedOrSpam(t)
            if let r = t.responsible {
                throw fail(.conflict, r == me.id ? "you already hold ticket #\(n)" : "ticket #\(n) is already accepted by \(staffName(r))")
            }
            guard t.status.isOpen else { throw fail(.illegalTransition, "ticket #\(n) is \(t.status.rawValue); reopen it first") }
            emit(.ticketAccepted(TicketAccepted(ticket: n, by: me.id)))
        case let .addParticipant(n, staff, role):
            let me = try requireStaff(.staff)
            let t = try ticket(n)
            guard let m = state.account.staff[staff], m.active else { throw fail(.notFound, "no active staff member '\(staff)'") }
            if role == .coExecutor, t.responsible != me.id, me.role < .manager {
                throw fail(.forbidden, "only the responsible (\(t.responsible.map(staffName) ?? "nobody yet")) or a manager adds co-executors")
            }
            let present = role == .participant ? t.participants.contains(staff) : t.coExecutors.contains(staff)
            guard !present else { throw fail(.conflict, "\(m.name) is already a \(role.rawValue) of #\(n)") }
            emit(.participantAdded(ParticipantAdded(ticket: n, staff: staff, role: role, by: actor)))
        case let .removeParticipant(n, staff, role):
            let me = try requireStaff(.staff)
            let t = try ticket(n)
            guard t.responsible == me.id || me.role >= .manager || staff == me.id else {
                throw fail(.forbidden, "only the responsible, a manager, or the member themselves removes a \(role.rawValue)")
            }
            if role == .participant, t.responsible == staff {
                throw fail(.conflict, "the responsible cannot leave the ticket; reassign it first")
            }
            let present = role == .participant ? t.participants.contains(staff) : t.coExecutors.contains(staff)
            guard present else { throw fail(.notFound, "'\(staff)' is not a \(role.rawValue) of #\(n)") }
            emit(.participantRemoved(ParticipantRemoved(ticket: n, staff: staff, role: role, by: actor)))
        case let .reassign(n, to):
            let me = try requireStaff(.manager)
            let t = try ticket(n)
            try notMergedOrSpam(t)
            guard let m = state.account.staff[to], m.active, m.role >= .staff else { throw fail(.notFound, "no active staff member '\(to)'") }
            guard t.responsible != to else { throw fail(.conflict, "\(m.name) already holds #\(n)") }
            emit(.ticketReassigned(TicketReassigned(ticket: n, from: t.responsible, to: to, by: me.id)))
        case let .comment(n, body, isInternal, notify, attachments, channel, externalId):
            try comment(n, body, isInternal, notify, attachments, channel, externalId)
        case let .receiveMail(m):
            try receiveMail(m)
        case let .recordDelivery(n, number, recipient, status, detail):
            guard case .system = actor else { throw fail(.forbidden, "deliveries are recorded by the desk's mail sender") }
            let t = try ticket(n)
            guard let c = t.comments.first(where: { $0.number == number }) else { throw fail(.notFound, "#\(n) has no comment \(number)") }
            guard c.notify.contains(recipient) else { throw fail(.invalid, "\(recipient) was not notified of comment \(number)") }
            emit(.deliveryRecorded(DeliveryRecorded(ticket: n, comment: number, recipient: recipient, status: status, detail: detail)))
        case let .changeStatus(n, to, reason, until):
            try changeStatus(n, to: to, reason: reason, until: until)
        case let .close(n, evaluation, reason):
            try close(n, evaluation: evaluation, reason: reason)
        case let .classify(n, change):
            let me = try requireStaff(.staff)
            let t = try ticket(n)
            if let c = change.complexity, !(1...5).contains(c) { throw fail(.invalid, "complexity is 1…5") }
            if let m = change.plannedMinutes, !(0...100_000).contains(m) { throw fail(.invalid, "planned effort is 0…100000 minutes") }
            if let d = change.expectedDate, !d.isValid { throw fail(.invalid, "expected date \(d) does not exist") }
            if change.directionType != nil, change.direction ?? t.classification.direction == nil {
                throw fail(.invalid, "a direction type needs a direction")
            }
            let merged = t.classification.merging(change)
            guard merged != t.classification else { throw fail(.conflict, "nothing to change in #\(n)'s classification") }
            emit(.ticketClassified(TicketClassified(ticket: n, classification: merged, by: me.id)))
        case let .changeLevel(n, to):
            let me = try requireStaff(.staff)
            let t = try ticket(n)
            try notMergedOrSpam(t)
            guard t.level != to else { throw fail(.conflict, "#\(n) is already at L\(to.rawValue)") }
            emit(.levelChanged(LevelChanged(ticket: n, from: t.level, to: to, by: me.id)))
        case let .splitComment(n, number, subject):
            try split(n, number, subject)
        case let .mergeTicket(duplicate, into):
            let me = try requireStaff(.staff)
            let dup = try ticket(duplicate)
            let original = try ticket(into)
            guard duplicate != into else { throw fail(.invalid, "a ticket cannot be merged into itself") }
            try notMergedOrSpam(dup)
            try notMergedOrSpam(original)
            emit(.ticketMerged(TicketMerged(ticket: duplicate, into: into, by: me.id)))
            emit(.duplicateMergedIn(DuplicateMergedIn(ticket: into, duplicate: duplicate, by: me.id)))
            if dup.status != .closed {
                emit(.statusChanged(StatusChanged(ticket: duplicate, from: dup.status, to: .closed, by: actor,
                                                  reason: "merged into #\(into)", until: nil)))
            }
            outcome.ticket = into
        case let .markSpam(n):
            let me = try requireStaff(.staff)
            let t = try ticket(n)
            guard !t.spam else { throw fail(.conflict, "#\(n) is already marked as spam") }
            emit(.markedAsSpam(MarkedAsSpam(ticket: n, by: me.id)))
            if t.status != .closed {
                emit(.statusChanged(StatusChanged(ticket: n, from: t.status, to: .closed, by: actor, reason: "spam", until: nil)))
            }
        case let .logTime(n, minutes, on, note):
            let me = try requireStaff(.staff)
            let t = try ticket(n)
            guard t.involves(me.id) else { throw fail(.forbidden, "join #\(n) before logging time on it") }
            guard (1...24 * 60).contains(minutes) else { throw fail(.invalid, "log 1…1440 minutes at a time") }
            let day = on ?? localDate(at, timeZone: state.account.timeZone)
            guard day.isValid else { throw fail(.invalid, "date \(day) does not exist") }
            emit(.timeLogged(TimeLogged(ticket: n, staff: me.id, minutes: minutes, on: day, note: note)))
        case let .rateAnswer(n, number, score, note):
            guard let me = actor.contactId else { throw fail(.forbidden, "only clients rate answers") }
            let t = try ticket(n)
            try requireContactAccess(me, t)
            guard state.survivor(of: t.contact) == state.survivor(of: me) else {
                throw fail(.forbidden, "only the client who asked rates the answers on #\(n)")
            }
            guard (1...5).contains(score) else { throw fail(.invalid, "a rating is 1…5") }
            if let note { try text(note, "rating text", max: 5000, allowEmpty: true) }
            if let number {
                guard let c = t.comments.first(where: { $0.number == number }), !c.isInternal, c.author.staffId != nil else {
                    throw fail(.notFound, "#\(n) has no answer \(number) to rate")
                }
            } else if !t.comments.contains(where: { !$0.isInternal && $0.author.staffId != nil }) {
                throw fail(.conflict, "#\(n) has no answer to rate yet")
            }
            emit(.answerRated(AnswerRated(ticket: n, contact: state.survivor(of: me), comment: number, score: score, text: note)))
        case let .escalate(n):
            guard case .system = actor else { throw fail(.forbidden, "escalation is the desk's timer's job") }
            let t = try ticket(n)
            guard let rule = state.account.escalation else { throw fail(.conflict, "no escalation rule is set") }
            guard t.awaitsEscalation, let due = t.escalationDue else { throw fail(.conflict, "#\(n) does not await escalation") }
            guard at >= due else { throw fail(.conflict, "#\(n) escalates at \(due), not before") }
            emit(.ticketEscalated(TicketEscalated(ticket: n, manager: rule.manager, afterBusinessHours: rule.afterBusinessHours)))
        }
        return Decision(events: events, outcome: outcome)
    }

    // MARK: Tickets

    mutating func openTicket(_ open: OpenTicket) throws(DomainError) {
        try text(open.subject, "subject", max: Desk.maxSubjectLength)
        try text(open.body, "message", max: Desk.maxTextLength, allowEmpty: true)
        if let ext = open.externalId { try text(ext, "external id", max: 1000) }
        // Who it is from.
        var contactId: ContactId
        switch actor {
        case .contact(let me):
            let c = try liveContact(me)
            if let ref = open.contact, ref != .id(c.id) { throw fail(.forbidden, "clients open tickets only for themselves") }
            contactId = c.id
        case .staff:
            try requireStaff(.staff)
            fallthrough
        case .system:
            guard let ref = open.contact else { throw fail(.invalid, "say who the ticket is from (contact id, e-mail or phone)") }
            contactId = try resolveOrCreate(ref, organisation: open.organisation, language: open.language)
        }
        let contact = try liveContact(contactId)
        if actor.contactId != nil, let asked = open.organisation, asked != contact.organisation {
            throw fail(.forbidden, "clients open tickets only for their own organisation")
        }
        let org = open.organisation ?? contact.organisation
        if let org, state.organisations[org] == nil { throw fail(.notFound, "no organisation '\(org)'") }
        let number = state.lastTicketNumber + 1
        try openTicketEvent(number: number, channel: open.channel, subject: open.subject, body: open.body,
                            contact: contactId, organisation: org, language: open.language ?? contact.language,
                            premium: open.premium, attachments: open.attachments, externalId: open.externalId, origin: nil)
        outcome.contact = contactId
    }

    mutating func openTicketEvent(number: TicketNumber, channel: Channel, subject: String, body: String, contact: ContactId,
                                  organisation: OrganisationId?, language: String, premium askedPremium: Bool,
                                  attachments: [AttachmentRef], externalId: String?, origin: TicketOrigin?,
                                  openedBy: Party? = nil) throws(DomainError) {
        var premium = false
        var refused: String?
        if askedPremium {
            if let org = organisation, let o = state.organisations[org] {
                if o.premiumLeft > 0 { premium = true } else { refused = "\(o.name) has no premium tickets left" }
            } else {
                refused = "premium tickets need an organisation with a quota"
            }
        }
        let due = Desk.dueTimes(state: state, organisation: organisation, at: at)
        var participants = Set(state.account.workingStaff)
        participants.formUnion(state.account.brain.filter { state.account.staff[$0]?.active == true })
        emit(.ticketOpened(TicketOpened(ticket: number, channel: channel, subject: subject, body: body, contact: contact,
                                        organisation: organisation, language: language, openedBy: openedBy ?? actor, premium: premium,
                                        premiumRefused: refused, participants: participants.sorted(), tierId: due.tier,
                                        reactionDue: due.reaction, resolutionDue: due.resolution, escalationDue: due.escalation,
                                        attachments: attachments, externalId: externalId, origin: origin)))
        if premium, let org = organisation {
            emit(.premiumQuotaUsed(PremiumQuotaUsed(organisation: org, ticket: number)))
        }
        outcome.ticket = number
    }

    mutating func comment(_ n: TicketNumber, _ body: String, _ isInternal: Bool, _ notify: [Party]?,
                          _ attachments: [AttachmentRef], _ channel: Channel?, _ externalId: String?) throws(DomainError) {
        let t = try ticket(n)
        try text(body, "comment", max: Desk.maxTextLength, allowEmpty: !attachments.isEmpty)
        if let m = t.mergedInto { throw fail(.illegalTransition, "#\(n) was merged into #\(m); write there") }
        switch actor {
        case .contact(let me):
            try requireContactAccess(me, t)
            guard !isInternal else { throw fail(.forbidden, "clients cannot write internal comments") }
            guard !t.spam else { throw fail(.illegalTransition, "#\(n) is closed as spam") }
            _ = contactReply(t, author: me, body, attachments, channel, externalId)
            return
        case .staff:
            let me = try requireStaff(.staff)
            var recipients: [Party]
            if let notify {
                recipients = []
                for p in notify where !recipients.contains(p) {
                    try checkRecipient(p, ticket: t, internal: isInternal)
                    recipients.append(p)
                }
            } else {
                recipients = defaultRecipients(t).filter { !(isInternal && $0.contactId != nil) }
                if !isInternal, !recipients.contains(where: { $0.contactId != nil }) {
                    recipients.append(.contact(state.survivor(of: t.contact)))
                }
            }
            if !recipients.contains(.staff(me.id)) { recipients.append(.staff(me.id)) }
            let number = (t.comments.last?.number ?? 0) + 1
            emit(.commentAdded(CommentAdded(ticket: n, comment: number, author: actor, text: body, isInternal: isInternal,
                                            notify: recipients, attachments: attachments, channel: channel, externalId: externalId)))
            outcome.ticket = n
            outcome.comment = number
        case .system:
            throw fail(.forbidden, "the desk does not write comments itself")
        }
    }

    /// A client's reply (from the portal, or by e-mail): it goes to the staff of the previous comment and
    /// the responsible, and brings a waiting, postponed, resolved or closed ticket back to work (R14).
    mutating func contactReply(_ t: TicketState, author me: ContactId, _ body: String, _ attachments: [AttachmentRef],
                               _ channel: Channel?, _ externalId: String?) -> CommentNumber {
        let n = t.number
        var set = defaultRecipients(t).filter { $0.staffId != nil }
        if let r = t.responsible, !set.contains(.staff(r)) { set.append(.staff(r)) }
        if set.isEmpty { set = t.participants.sorted().map(Party.staff) }
        let author = Party.contact(state.survivor(of: me))
        if !set.contains(author) { set.append(author) }
        let number = (t.comments.last?.number ?? 0) + 1
        emit(.commentAdded(CommentAdded(ticket: n, comment: number, author: author, text: body, isInternal: false,
                                        notify: set, attachments: attachments, channel: channel, externalId: externalId)))
        switch t.status {
        case .waitingForClient, .postponed:
            emit(.statusChanged(StatusChanged(ticket: n, from: t.status, to: t.responsible == nil ? .new : .accepted,
                                              by: author, reason: "the client replied", until: nil)))
        case .resolved, .closed:
            emit(.statusChanged(StatusChanged(ticket: n, from: t.status, to: .reopened, by: author,
                                              reason: "the client replied", until: nil)))
        default: break
        }
        outcome.ticket = n
        outcome.comment = number
        return number
    }

    // MARK: Mail

    /// An e-mail from the intake: a reply in its thread, a new ticket, or (automatic mail) a record only.
    mutating func receiveMail(_ m: InboundMail) throws(DomainError) {
        switch actor {
        case .system("mail"): break
        case .system: throw fail(.forbidden, "mail comes in through the desk's mail gateway (system:mail)")
        case .staff: try requireStaff(.admin)
        case .contact: throw fail(.forbidden, "mail comes in through the desk's mail gateway")
        }
        try text(m.messageId, "Message-ID", max: 500)
        guard m.messageId.utf8.count <= 500 else { throw fail(.invalid, "a Message-ID is at most 500 bytes") }
        try text(m.subject, "subject", max: Desk.maxSubjectLength, allowEmpty: true)
        try text(m.text, "message", max: Desk.maxTextLength, allowEmpty: true)
        guard m.raw.utf8.count == 64, m.raw.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw fail(.invalid, "the raw message reference must be a lowercase hex SHA-256")
        }
        let from = trimmedBlank(m.from)
        guard !from.isEmpty, from.utf8.count <= 254 else { throw fail(.invalid, "a sender address is 1…254 bytes") }
        /// A ticket with merges followed to the one that lives on.
        func live(_ n: TicketNumber?) -> TicketState? {
            var t = n.flatMap { state.tickets[$0] }
            var hops = 0
            while let into = t?.mergedInto, hops < 100 { t = state.tickets[into]; hops += 1 }
            return t
        }
        func record(_ ticket: TicketNumber?, _ comment: CommentNumber?, _ via: String, _ note: String?) {
            emit(.mailReceived(MailReceived(messageId: m.messageId, from: normalisedEmail(m.from), subject: m.subject, raw: m.raw,
                                            ticket: ticket, comment: comment, threadedBy: via, note: note)))
        }
        let threaded = live(m.thread)
        // Automatic mail is recorded (on its thread's ticket if it has one) and nothing else: even a
        // bounce from a malformed address is kept.
        if let why = m.automatic {
            record(threaded?.number, nil, "set-aside", why)
            return
        }
        try email(m.from)
        let fromKey = normalisedEmail(m.from)
        if let staff = state.account.staff.values.first(where: { $0.email == fromKey || normalisedEmail($0.email) == fromKey }) {
            record(threaded?.number, nil, "set-aside", "from staff member \(staff.name): answers are written in the desk")
            return
        }
        // Replies into a ticket marked as spam stay with it, set aside: they never reopen anything.
        if let t = threaded ?? live(m.subjectTicket), t.spam {
            record(t.number, nil, "set-aside", "#\(t.number) is marked as spam")
            return
        }
        let contact = try resolveOrCreate(.email(m.from, name: m.fromName), organisation: nil, language: m.language)
        outcome.contact = contact
        let blank = !m.text.unicodeScalars.contains { !$0.properties.isWhitespace }
        var body = blank && m.attachments.isEmpty ? "(empty message)" : m.text
        var target: (TicketState, String, TicketNumber)?
        var note: String?
        if let t = threaded, let n = m.thread { target = (t, m.threadVia ?? "reference", n) }
        if target == nil, let n = m.subjectTicket {
            // The sender must take part in the ticket named, or in the one it was merged into.
            if let named = state.tickets[n], let t = live(n), !t.spam, takesPart(contact, named) || takesPart(contact, t) {
                target = (t, "subject", n)
            } else {
                note = "the subject names #\(n), but the sender does not take part in it"
            }
        }
        if let (t, via, named) = target {
            let number = contactReply(t, author: contact, body, m.attachments, .email, m.messageId)
            record(t.number, number, via, named != t.number ? "#\(named) was merged into #\(t.number)" : nil)
            return
        }
        if let whole = m.wholeText {
            try text(whole, "message", max: Desk.maxTextLength, allowEmpty: true)
            if whole.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) { body = whole }
        }
        let c = try liveContact(contact)
        let number = state.lastTicketNumber + 1
        let subject = m.subject.utf8.count > 1000 ? String(m.subject.prefix(Desk.maxSubjectLength)) : m.subject
        let trimmedSubject = subject.unicodeScalars.firstIndex { !$0.properties.isWhitespace }.map { first in
            String(subject.unicodeScalars[first...subject.unicodeScalars.lastIndex { !$0.properties.isWhitespace }!])
        } ?? ""
        try openTicketEvent(number: number, channel: .email, subject: trimmedSubject.isEmpty ? "(no subject)" : String(trimmedSubject.prefix(Desk.maxSubjectLength)),
                            body: body, contact: contact, organisation: c.organisation, language: m.language ?? c.language,
                            premium: false, attachments: m.attachments, externalId: m.messageId, origin: nil,
                            openedBy: .contact(contact))
        record(number, 1, "new", note)
        outcome.contact = contact
    }

    /// Whether a contact already takes part in a ticket: its client (or one who reaches it), a member of
    /// its organisation, or someone who wrote in it or was notified in it.
    func takesPart(_ contact: ContactId, _ t: TicketState) -> Bool {
        let me = state.survivor(of: contact)
        if state.contactReaches(me, t) { return true }
        if let org = t.organisation, (createdContacts[me] ?? state.contacts[me])?.organisation == org { return true }
        let p = Party.contact(me)
        return t.comments.contains { $0.author == p || $0.notify.contains(p) }
    }

    /// The previous comment's recipients (R11), without staff who have left, with merged contacts
    /// replaced by their survivors, and never the desk itself.
    func defaultRecipients(_ t: TicketState) -> [Party] {
        var out: [Party] = []
        for p in t.lastRecipients {
            let q: Party
            switch p {
            case .staff(let id):
                guard state.account.staff[id]?.active == true else { continue }
                q = p
            case .contact(let id):
                let s = state.survivor(of: id)
                guard state.contacts[s] != nil else { continue }
                q = .contact(s)
            case .system:
                continue
            }
            if !out.contains(q) { out.append(q) }
        }
        return out
    }

    func checkRecipient(_ p: Party, ticket t: TicketState, internal isInternal: Bool) throws(DomainError) {
        switch p {
        case .staff(let id):
            guard let m = state.account.staff[id], m.active else { throw fail(.notFound, "no active staff member '\(id)' to notify") }
        case .contact(let id):
            guard !isInternal else { throw fail(.invalid, "an internal comment cannot notify a client (\(id))") }
            guard let c = state.contacts[id], c.mergedInto == nil else { throw fail(.notFound, "no contact '\(id)' to notify") }
            let onTicket = state.survivor(of: t.contact) == id
                || (c.organisation != nil && c.organisation == t.organisation)
                || t.comments.contains { $0.notify.contains(p) || $0.author == p }
            guard onTicket else {
                throw fail(.forbidden, "\(c.name) is not a contact of #\(t.number)'s client; add them to the organisation first")
            }
        case .system:
            throw fail(.invalid, "the desk itself cannot be notified")
        }
    }

    mutating func changeStatus(_ n: TicketNumber, to: TicketStatus, reason: String?, until: Date?) throws(DomainError) {
        let me = try requireStaff(.staff)
        let t = try ticket(n)
        try notMergedOrSpam(t)
        let from = t.status
        guard from != to else { throw fail(.conflict, "#\(n) is already \(to.rawValue)") }
        let allowed: Bool
        switch to {
        case .new: allowed = false
        case .closed: throw fail(.invalid, "use close to close a ticket (it records the answer evaluation)")
        case .accepted: allowed = [.waitingForClient, .postponed, .reopened].contains(from) && t.responsible != nil
        case .waitingForClient, .postponed, .resolved: allowed = [.accepted, .reopened, .waitingForClient, .postponed].contains(from)
        case .reopened: allowed = from == .resolved || from == .closed
        }
        guard allowed else {
            let hint = t.responsible == nil && to == .accepted ? " (accept it instead)" : ""
            throw fail(.illegalTransition, "#\(n) cannot go from \(from.rawValue) to \(to.rawValue)\(hint)")
        }
        if to != .reopened, t.responsible == nil { throw fail(.illegalTransition, "accept #\(n) first") }
        if to != .reopened, t.responsible != me.id, !t.coExecutors.contains(me.id), me.role < .manager {
            throw fail(.forbidden, "only the responsible, a co-executor or a manager changes #\(n)'s status")
        }
        if to == .postponed {
            guard let until, until > at else { throw fail(.invalid, "postponing needs a future 'until'") }
        }
        emit(.statusChanged(StatusChanged(ticket: n, from: from, to: to, by: actor, reason: reason,
                                          until: to == .postponed ? until.map(Desk.wholeSeconds) : nil)))
    }

    mutating func close(_ n: TicketNumber, evaluation: AnswerEvaluation?, reason: String?) throws(DomainError) {
        let me = try requireStaff(.staff)
        let t = try ticket(n)
        try notMergedOrSpam(t)
        guard t.status != .closed else { throw fail(.conflict, "#\(n) is already closed") }
        guard t.responsible == me.id || me.role >= .manager else {
            throw fail(.forbidden, "only the responsible (\(t.responsible.map(staffName) ?? "nobody")) or a manager closes #\(n)")
        }
        let answered = t.comments.contains { !$0.isInternal && $0.author == .staff(me.id) }
        if let e = evaluation {
            guard (1...5).contains(e.kind) else { throw fail(.invalid, "answer kind is 1…5") }
            guard (1...3).contains(e.help) else { throw fail(.invalid, "help involvement is 1…3") }
            guard (0...1000).contains(e.links), (0...1000).contains(e.screenshots) else {
                throw fail(.invalid, "links and screenshots are counts from 0 to 1000")
            }
            guard answered else { throw fail(.invalid, "you have not answered the client on #\(n), so there is no answer to evaluate") }
        } else if answered, t.responsible == me.id, t.evaluations[me.id] == nil {
            throw fail(.invalid, "evaluate your answer to close #\(n): kind 1…5, volume, links, screenshots, help 1…3")
        }
        emit(.statusChanged(StatusChanged(ticket: n, from: t.status, to: .closed, by: actor, reason: reason, until: nil)))
        if let e = evaluation {
            emit(.answerEvaluated(AnswerEvaluated(ticket: n, staff: me.id, evaluation: e)))
        }
    }

    mutating func split(_ n: TicketNumber, _ number: CommentNumber, _ subject: String?) throws(DomainError) {
        let me = try requireStaff(.staff)
        let t = try ticket(n)
        try notMergedOrSpam(t)
        guard number > 1, let c = t.comments.first(where: { $0.number == number }) else {
            throw fail(.notFound, "#\(n) has no comment \(number) to split out (the opening message stays)")
        }
        guard !c.isInternal else { throw fail(.invalid, "internal comments are not client questions; only client-visible comments split out") }
        if t.splitComments.contains(number) { throw fail(.conflict, "comment \(number) of #\(n) was already split out") }
        if let subject { try text(subject, "subject", max: Desk.maxSubjectLength) }
        let newNumber = state.lastTicketNumber + 1
        let contact = c.author.contactId.map(state.survivor(of:)) ?? state.survivor(of: t.contact)
        let title = subject ?? String("\(t.subject) (split from #\(n))".prefix(Desk.maxSubjectLength))
        emit(.commentSplitOff(CommentSplitOff(ticket: n, comment: number, newTicket: newNumber, by: me.id)))
        try openTicketEvent(number: newNumber, channel: t.channel, subject: title, body: c.text, contact: contact,
                            organisation: t.organisation, language: t.language, premium: false,
                            attachments: c.attachments, externalId: nil, origin: TicketOrigin(splitFrom: n, comment: number))
    }

    // MARK: Contacts

    mutating func resolveOrCreate(_ ref: ContactRef, organisation: OrganisationId?, language: String?) throws(DomainError) -> ContactId {
        switch ref {
        case .id(let id):
            return try liveContact(id).id
        case .email(let address, let name):
            try email(address)
            if let known = state.contactByEmail[normalisedEmail(address)] { return state.survivor(of: known) }
            let domain = String(normalisedEmail(address).split(separator: "@").last ?? "")
            let org = organisation ?? state.organisations.values.filter { $0.domains.contains(domain) }.map(\.id).min()
            let id = newContactId()
            let display = name.flatMap { $0.isEmpty ? nil : $0 } ?? String(address.split(separator: "@").first ?? "")
            try createContact(id: id, name: display, emails: [address], phones: [], organisation: org, language: language, automatic: true)
            return id
        case .phone(let phone, let name):
            let p = normalisedPhone(phone)
            guard p.filter(\.isNumber).count >= 3 else { throw fail(.invalid, "'\(phone)' is not a phone number") }
            if let known = state.contactByPhone[p] { return state.survivor(of: known) }
            let id = newContactId()
            try createContact(id: id, name: name ?? phone, emails: [], phones: [phone], organisation: organisation,
                              language: language, automatic: true)
            return id
        }
    }

    func newContactId() -> ContactId {
        var n = state.contacts.count + createdContacts.count + 1
        while state.contacts["auto-\(n)"] != nil || createdContacts["auto-\(n)"] != nil { n += 1 }
        return "auto-\(n)"
    }

    mutating func createContact(id: ContactId, name: String, emails: [String], phones: [String], organisation: OrganisationId?,
                                language: String?, automatic: Bool) throws(DomainError) {
        try text(name, "name", max: 200)
        guard !emails.isEmpty || !phones.isEmpty || !automatic else { throw fail(.invalid, "a contact needs an address") }
        for m in emails {
            try email(m)
            try addressIsFree(m, kind: "e-mail address", owner: state.contactByEmail[normalisedEmail(m)], for: id)
        }
        for p in phones {
            guard normalisedPhone(p).filter(\.isNumber).count >= 3 else { throw fail(.invalid, "'\(p)' is not a phone number") }
            try addressIsFree(p, kind: "phone", owner: state.contactByPhone[normalisedPhone(p)], for: id)
        }
        if let organisation, state.organisations[organisation] == nil { throw fail(.notFound, "no organisation '\(organisation)'") }
        emit(.contactCreated(ContactCreated(contact: id, name: name, emails: emails.map(normalisedEmail),
                                            phones: phones.map(normalisedPhone), organisation: organisation,
                                            language: language ?? state.account.defaultLanguage, automatic: automatic)))
    }

    func addressIsFree(_ value: String, kind: String, owner: ContactId?, for id: ContactId) throws(DomainError) {
        if let owner, state.survivor(of: owner) != id {
            throw fail(.conflict, "the \(kind) \(value) already belongs to contact '\(state.survivor(of: owner))'; merge the contacts instead")
        }
    }

    /// A contact that exists and is not merged away (a merged id resolves to nothing: say where it went).
    func liveContact(_ id: ContactId) throws(DomainError) -> ContactState {
        guard let c = createdContacts[id] ?? state.contacts[id] else { throw fail(.notFound, "no contact '\(id)'") }
        if let into = c.mergedInto { throw fail(.conflict, "contact '\(id)' was merged into '\(state.survivor(of: into))'") }
        return c
    }

    func contactForChange(_ id: ContactId) throws(DomainError) -> ContactState {
        let c = try liveContact(id)
        switch actor {
        case .contact(let me) where me == c.id: return c
        case .staff: try requireStaff(.staff); return c
        default: throw fail(.forbidden, "clients change only their own contact card")
        }
    }

    // MARK: Checks

    @discardableResult
    func requireStaff(_ minimum: Role) throws(DomainError) -> StaffMember {
        guard let id = actor.staffId else { throw fail(.forbidden, "only staff may do this") }
        guard let m = state.account.staff[id], m.active else { throw fail(.forbidden, "'\(id)' is not an active staff member") }
        guard m.role != .auditor else { throw fail(.forbidden, "auditors change nothing") }
        guard m.role >= minimum else { throw fail(.forbidden, "this needs the \(minimum.rawValue) role; \(m.name) is \(m.role.rawValue)") }
        return m
    }

    func requireTier(_ id: String) throws(DomainError) {
        guard state.account.tiers[id] != nil else { throw fail(.notFound, "no SLA tier '\(id)'") }
    }

    func ticket(_ n: TicketNumber) throws(DomainError) -> TicketState {
        guard let t = state.tickets[n] else { throw fail(.notFound, "no ticket #\(n)") }
        if case .contact(let me) = actor { try requireContactAccess(me, t) }
        return t
    }

    /// R12/R26: a client reaches their own tickets, or their organisation's when sharing is on.
    /// Refusals say "no ticket" so that they do not reveal which numbers exist.
    func requireContactAccess(_ contact: ContactId, _ t: TicketState) throws(DomainError) {
        guard state.contactReaches(contact, t) else { throw fail(.notFound, "no ticket #\(t.number)") }
    }

    func notMergedOrSpam(_ t: TicketState) throws(DomainError) {
        if let m = t.mergedInto { throw fail(.illegalTransition, "#\(t.number) was merged into #\(m)") }
        if t.spam { throw fail(.illegalTransition, "#\(t.number) is marked as spam") }
    }

    func staffName(_ id: StaffId) -> String { state.account.staff[id]?.name ?? id }

    func identifier(_ s: String, _ what: String) throws(DomainError) {
        guard !s.isEmpty, s.count <= Desk.maxIdLength,
              s.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.@".unicodeScalars.contains($0)) })
        else { throw fail(.invalid, "\(what) must be 1…\(Desk.maxIdLength) of A–Z, a–z, 0–9, '-', '_', '.', '@'") }
    }

    func text(_ s: String, _ what: String, max: Int, allowEmpty: Bool = false) throws(DomainError) {
        if !allowEmpty, !s.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) { throw fail(.invalid, "\(what) is empty") }
        let bytes = s.utf8.count
        if bytes > max * 4 || (bytes > max && s.count > max) { throw fail(.invalid, "\(what) is longer than \(max) characters") }
    }

    func email(_ s: String) throws(DomainError) {
        let m = normalisedEmail(s)
        let parts = m.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              m.count <= 254, !m.contains(where: { $0.isWhitespace }) else {
            throw fail(.invalid, "'\(s)' is not an e-mail address")
        }
    }
}

/// The calendar date of an instant in a time zone.
public func localDate(_ instant: Date, timeZone: String) -> LocalDate {
    LocalDay(timeZone: timeZone)(instant)
}

/// The local date, hour and weekday of instants in one time zone, for many instants (a report).
///
/// Asking `Calendar` (ICU) for every instant cost more than the reports themselves; this asks the
/// time zone for its UTC offset at the start and the end of each UTC day it meets, uses that offset
/// for the whole day when the two agree (a zone changes its offset at most once a day), asks per
/// instant only on the few days they differ, and does the calendar arithmetic itself
/// (`LocalDate(dayNumber:)`). Not shared between threads: make one per report.
public final class LocalDay {
    let zone: TimeZone
    /// Per UTC day: its one offset, or nil when the offset changes during the day.
    private var offsets: [Int: Int?] = [:]

    public init(timeZone: String) {
        zone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
    }

    public func callAsFunction(_ instant: Date) -> LocalDate { parts(instant).date }

    /// The local date, hour (0…23) and weekday (0 = Monday … 6 = Sunday) of `instant`.
    public func parts(_ instant: Date) -> (date: LocalDate, hour: Int, weekday: Int) {
        let utc = Int(instant.timeIntervalSince1970.rounded(.down))
        let day = Self.floorDiv(utc, 86_400)
        let offset: Int
        if let known = offsets[day] {
            offset = known ?? zone.secondsFromGMT(for: instant)
        } else {
            let first = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(day * 86_400)))
            let last = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(day * 86_400 + 86_399)))
            if offsets.count > 100_000 { offsets.removeAll(keepingCapacity: true) }
            offsets[day] = .some(first == last ? first : nil)
            offset = first == last ? first : zone.secondsFromGMT(for: instant)
        }
        let local = utc + offset
        let days = Self.floorDiv(local, 86_400)
        return (LocalDate(dayNumber: days), (local - days * 86_400) / 3600, LocalDate.weekdayIndex(ofDay: days))
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : (a - b + 1) / b }
}
