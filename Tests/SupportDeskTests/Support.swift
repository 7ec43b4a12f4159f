import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

// Given-events / when-command / then-events-or-error helpers and the shared fixture.

/// An instant from an ISO 8601 string such as `2025-03-05T09:00:00Z` (or with an offset, `+03:00`).
func utc(_ s: String) -> Date {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    guard let d = f.date(from: s) else { fatalError("bad date literal \(s)") }
    return d
}

/// Wednesday 5 March 2025, 12:00 in Moscow (09:00 UTC): inside business hours.
let t0 = utc("2025-03-05T09:00:00Z")

/// Folds `events` into a state, every event at `at`.
func given(_ events: [DeskEvent], at: Date = t0) -> DeskState {
    var s = DeskState()
    for e in events { s.evolve(e, at: at) }
    return s
}

/// Decides one command and returns its events.
func when(_ state: DeskState, _ actor: Party, _ body: CommandBody, at: Date = t0) throws(DomainError) -> [DeskEvent] {
    try Desk.decide(Command(actor: actor, body), at: at, state: state).events
}

/// Decides a command that must be refused; records an issue and returns nil if it is not.
@discardableResult
func refusal(_ state: DeskState, _ actor: Party, _ body: CommandBody, at: Date = t0,
             sourceLocation: SourceLocation = #_sourceLocation) -> DomainError? {
    do throws(DomainError) {
        let events = try when(state, actor, body, at: at)
        Issue.record("expected a refusal, got \(events.map(\.type))", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Expects `body` by `actor` to be refused with `code` and a message containing every fragment (case-insensitive).
func expectRefused(_ state: DeskState, _ actor: Party, _ body: CommandBody, at: Date = t0,
                   _ code: DomainError.Code, _ fragments: String...,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    guard let e = refusal(state, actor, body, at: at, sourceLocation: sourceLocation) else { return }
    #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
    for f in fragments {
        #expect(e.message.localizedLowercase.contains(f.localizedLowercase),
                "message '\(e.message)' lacks '\(f)'", sourceLocation: sourceLocation)
    }
}

/// Folds the events a command produced onto the state (to continue a scenario).
func then(_ state: DeskState, _ events: [DeskEvent], at: Date = t0) -> DeskState {
    var s = state
    for e in events { s.evolve(e, at: at) }
    return s
}

// MARK: Actors

let admin = Party.staff("olga")     // Olga, admin
let manager = Party.staff("max")   // Max, manager
let anna = Party.staff("anna")      // staff
let boris = Party.staff("boris")    // staff
let auditor = Party.staff("audrey") // Audrey, auditor
let developer = Party.staff("dev") // Denis, staff, developer
let former = Party.staff("ivan")   // Ivan, staff, deactivated
let c1 = Party.contact("c1")        // Acme
let c2 = Party.contact("c2")        // Acme, c1's colleague
let c3 = Party.contact("c3")        // Globex
let mailer = Party.system("mail")
let timer = Party.system("escalation")

/// The active working staff of the fixture, sorted (auditor and deactivated member excluded).
let workingStaff: [StaffId] = ["anna", "boris", "dev", "max", "olga"]

// MARK: Fixture: a typical account

let moscowCalendar = BusinessCalendar.weekdays(id: "moscow", name: "Moscow office", timeZone: "Europe/Moscow", from: 600, to: 1140)
let roundTheClock = BusinessCalendar.twentyFourSeven(id: "24x7")

let standardTier = SLATier(id: "standard", name: "Clients standard", calendarId: "moscow", reactionHours: 6, resolutionHours: 24)
let vipTier = SLATier(id: "vip", name: "Clients VIP", calendarId: "moscow", reactionHours: 2, resolutionHours: 8)
let specialTier = SLATier(id: "special", name: "Special requests", calendarId: "24x7", reactionHours: 1, resolutionHours: 4)

func staffAdded(_ id: StaffId, _ name: String, _ role: Role, developer: Bool = false) -> DeskEvent {
    .staffAdded(StaffAdded(staff: id, name: name, email: "\(id)@desk.example", role: role, isDeveloper: developer))
}

let accountEvents: [DeskEvent] = [
    .accountCreated(AccountCreated(name: "Acme Support", timeZone: "Europe/Moscow", defaultLanguage: "ru")),
    staffAdded("olga", "Olga Adminova", .admin),
    staffAdded("max", "Max Managerov", .manager),
    staffAdded("anna", "Anna Petrova", .staff),
    staffAdded("boris", "Boris Sidorov", .staff),
    staffAdded("audrey", "Audrey Auditor", .auditor),
    staffAdded("dev", "Denis Developer", .staff, developer: true),
    staffAdded("ivan", "Ivan Formerly", .staff),
    .staffChanged(StaffChanged(staff: "ivan", active: false)),
    .calendarDefined(CalendarDefined(calendar: moscowCalendar)),
    .calendarDefined(CalendarDefined(calendar: roundTheClock)),
    .slaTierDefined(SLATierDefined(tier: standardTier, isDefault: true)),
    .slaTierDefined(SLATierDefined(tier: vipTier, isDefault: false)),
    .slaTierDefined(SLATierDefined(tier: specialTier, isDefault: false)),
    .escalationRuleSet(EscalationRuleSet(rule: EscalationRule(afterBusinessHours: 2, manager: "max"))),
]

let organisationEvents: [DeskEvent] = [
    .organisationCreated(OrganisationCreated(organisation: "acme", name: "Acme Ltd", tierId: "vip", domains: ["acme.example"])),
    .premiumQuotaPurchased(PremiumQuotaPurchased(organisation: "acme", tickets: 2, note: "invoice 17")),
    .organisationCreated(OrganisationCreated(organisation: "globex", name: "Globex", tierId: nil, domains: ["globex.example"])),
]

let contactEvents: [DeskEvent] = [
    .contactCreated(ContactCreated(contact: "c1", name: "Ivan Clientov", emails: ["ivan@acme.example"], phones: ["+79001112233"],
                                   organisation: "acme", language: "ru", automatic: false)),
    .contactCreated(ContactCreated(contact: "c2", name: "Petr Kollegov", emails: ["petr@acme.example"], phones: [],
                                   organisation: "acme", language: "ru", automatic: false)),
    .contactCreated(ContactCreated(contact: "c3", name: "Gina Globex", emails: ["gina@globex.example"], phones: [],
                                   organisation: "globex", language: "en", automatic: false)),
]

/// Account, organisations and contacts: no tickets yet.
let desk: [DeskEvent] = accountEvents + organisationEvents + contactEvents

// MARK: Ticket fixtures

func opened(_ n: TicketNumber, contact: ContactId = "c1", organisation: OrganisationId? = "acme", by: Party? = nil,
            channel: Channel = .portal, subject: String = "Printer on fire", body: String = "It smokes. What now?",
            participants: [StaffId] = workingStaff, escalationDue: Date? = nil, premium: Bool = false) -> DeskEvent {
    .ticketOpened(TicketOpened(ticket: n, channel: channel, subject: subject, body: body, contact: contact,
                               organisation: organisation, language: "ru", openedBy: by ?? .contact(contact), premium: premium,
                               premiumRefused: nil, participants: participants, tierId: "vip", reactionDue: nil,
                               resolutionDue: nil, escalationDue: escalationDue, attachments: [], externalId: nil, origin: nil))
}

func accepted(_ n: TicketNumber, by: StaffId = "anna") -> DeskEvent {
    .ticketAccepted(TicketAccepted(ticket: n, by: by))
}

func commented(_ n: TicketNumber, _ number: CommentNumber, by author: Party, _ text: String, internal isInternal: Bool = false,
               notify: [Party], attachments: [AttachmentRef] = []) -> DeskEvent {
    .commentAdded(CommentAdded(ticket: n, comment: number, author: author, text: text, isInternal: isInternal, notify: notify,
                               attachments: attachments, channel: nil, externalId: nil))
}

func status(_ n: TicketNumber, _ from: TicketStatus, _ to: TicketStatus, by: Party = anna) -> DeskEvent {
    .statusChanged(StatusChanged(ticket: n, from: from, to: to, by: by, reason: nil, until: nil))
}

/// Ticket 1 from c1 (Acme), accepted by Anna.
let ticket1Accepted: [DeskEvent] = desk + [opened(1), accepted(1)]
/// …and Anna has answered the client (comment 2).
let ticket1Answered: [DeskEvent] = ticket1Accepted + [
    commented(1, 2, by: anna, "Unplug it first.", notify: [.staff("anna"), .contact("c1")]),
]

/// A comment command with the usual defaults.
func commentBody(_ n: TicketNumber, _ text: String, internal isInternal: Bool = false, notify: [Party]? = nil,
                 attachments: [AttachmentRef] = []) -> CommandBody {
    .comment(ticket: n, text: text, internal: isInternal, notify: notify, attachments: attachments, channel: nil, externalId: nil)
}

/// The only `TicketOpened` among `events`.
func openedPayload(_ events: [DeskEvent], sourceLocation: SourceLocation = #_sourceLocation) -> TicketOpened? {
    let all = events.compactMap { if case .ticketOpened(let p) = $0 { p } else { nil } }
    #expect(all.count == 1, "expected one TicketOpened in \(events.map(\.type))", sourceLocation: sourceLocation)
    return all.first
}

/// The only `CommentAdded` among `events`.
func commentPayload(_ events: [DeskEvent], sourceLocation: SourceLocation = #_sourceLocation) -> CommentAdded? {
    let all = events.compactMap { if case .commentAdded(let p) = $0 { p } else { nil } }
    #expect(all.count == 1, "expected one CommentAdded in \(events.map(\.type))", sourceLocation: sourceLocation)
    return all.first
}

let evaluation = AnswerEvaluation(kind: 3, volume: .long, links: 2, screenshots: 1, help: 1)
