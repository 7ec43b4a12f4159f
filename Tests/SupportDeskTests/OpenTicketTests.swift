import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

/// Friday 7 March 2025, 18:00 in Moscow: one business hour left that day.
let fridayEvening = utc("2025-03-07T18:00:00+03:00")

@Suite("Opening tickets (R1, R4, R7, R18–R20)")
struct OpenTicketTests {
    let state = given(desk)

    func open(_ subject: String = "Printer on fire", body: String = "It smokes.", contact: ContactRef? = nil,
              organisation: OrganisationId? = nil, language: String? = nil, premium: Bool = false,
              channel: Channel = .portal, attachments: [AttachmentRef] = [], externalId: String? = nil) -> CommandBody {
        .openTicket(OpenTicket(channel: channel, subject: subject, body: body, contact: contact, organisation: organisation,
                               language: language, premium: premium, attachments: attachments, externalId: externalId))
    }

    @Test("a client's ticket opened Friday 18:00 on a 10–19 calendar with a 2 h tier is due Monday 11:00")
    func fullTicketOpenedEvent() throws {
        let file = AttachmentRef(sha256: String(repeating: "ab", count: 32), filename: "smoke.jpg", contentType: "image/jpeg", size: 12_345)
        let d = try Desk.decide(Command(actor: c1, open(attachments: [file])), at: fridayEvening, state: state)
        #expect(d.events == [
            .ticketOpened(TicketOpened(ticket: 1, channel: .portal, subject: "Printer on fire", body: "It smokes.", contact: "c1",
                                       organisation: "acme", language: "ru", openedBy: c1, premium: false, premiumRefused: nil,
                                       participants: ["anna", "boris", "dev", "max", "olga"], tierId: "vip",
                                       reactionDue: utc("2025-03-10T11:00:00+03:00"),
                                       resolutionDue: utc("2025-03-10T17:00:00+03:00"),
                                       escalationDue: utc("2025-03-10T11:00:00+03:00"),
                                       attachments: [file], externalId: nil, origin: nil)),
        ])
        #expect(d.outcome.ticket == 1 && d.outcome.contact == "c1")
    }

    @Test func dueTimesFollowTheTierCalendarAndAreWholeSeconds() throws {
        // A 3 h escalation rule: one hour on Friday, two on Monday.
        let threeHours = given(desk + [.escalationRuleSet(EscalationRuleSet(rule: EscalationRule(afterBusinessHours: 3, manager: "max")))])
        let a = openedPayload(try when(threeHours, c1, open(), at: fridayEvening.addingTimeInterval(0.7)))
        #expect(a?.reactionDue == utc("2025-03-10T11:00:00+03:00"))
        #expect(a?.escalationDue == utc("2025-03-10T12:00:00+03:00"))
        // A public holiday on Monday moves everything to Tuesday.
        let holiday = BusinessCalendar(id: "moscow", name: "Moscow office", timeZone: "Europe/Moscow", week: moscowCalendar.week,
                                       holidays: [LocalDate(year: 2025, month: 3, day: 10)])
        let b = openedPayload(try when(given(desk + [.calendarDefined(CalendarDefined(calendar: holiday))]), c1, open(), at: fridayEvening))
        #expect(b?.reactionDue == utc("2025-03-11T11:00:00+03:00"))
        #expect(b?.resolutionDue == utc("2025-03-11T17:00:00+03:00"))
        // The 24/7 special tier counts the night and the weekend.
        let special = given(desk + [.organisationChanged(OrganisationChanged(organisation: "globex", tierId: "special"))])
        let c = openedPayload(try when(special, c3, open(), at: fridayEvening))
        #expect(c?.tierId == "special")
        #expect(c?.reactionDue == utc("2025-03-07T19:00:00+03:00"))
        #expect(c?.resolutionDue == utc("2025-03-07T22:00:00+03:00"))
        #expect(c?.escalationDue == utc("2025-03-07T20:00:00+03:00"))
        #expect(c?.language == "en")
        // Globex has no tier of its own: the default tier (standard, 6 h / 24 h) applies, mid-week.
        let d = openedPayload(try when(state, c3, open(), at: t0))
        #expect(d?.tierId == "standard")
        #expect(d?.reactionDue == utc("2025-03-05T18:00:00+03:00"))
        #expect(d?.resolutionDue == utc("2025-03-07T18:00:00+03:00"))
        #expect(d?.escalationDue == utc("2025-03-05T14:00:00+03:00"))
        // No escalation rule: no escalation due.
        let off = given(desk + [.escalationRuleSet(EscalationRuleSet(rule: nil))])
        #expect(openedPayload(try when(off, c3, open()))?.escalationDue == nil)
    }

    @Test("R7: participants are all active working staff plus the brain")
    func participants() throws {
        #expect(openedPayload(try when(state, c1, open()))?.participants == ["anna", "boris", "dev", "max", "olga"])
        // The brain adds people who are not working staff (an auditor); inactive members stay out either way.
        let brain = given(desk + [.brainMembersSet(BrainMembersSet(members: ["audrey", "ivan", "max"]))])
        #expect(openedPayload(try when(brain, c1, open()))?.participants == ["anna", "audrey", "boris", "dev", "max", "olga"])
        let newcomer = given(desk + [staffAdded("zoe", "Zoe", .staff), .staffChanged(StaffChanged(staff: "boris", active: false))])
        #expect(openedPayload(try when(newcomer, c1, open()))?.participants == ["anna", "dev", "max", "olga", "zoe"])
    }

    @Test func ticketNumbersFollowTheLastOne() throws {
        let s = given(desk + [opened(1), opened(7, contact: "c3", organisation: "globex")])
        let d = try Desk.decide(Command(actor: c1, open()), at: t0, state: s)
        #expect(openedPayload(d.events)?.ticket == 8)
        #expect(d.outcome.ticket == 8)
    }

    @Test("R1: staff and the desk open tickets on a client's behalf by id, e-mail or phone")
    func onBehalf() throws {
        let byPhone = openedPayload(try when(state, anna, open(body: "", contact: .phone("8 (900) 111-22-33 ", name: nil), channel: .phone)))
        // "8 900…" is not "+7 900…": a different number, so a new contact.
        #expect(byPhone?.contact == "auto-4")
        let known = openedPayload(try when(state, anna, open(contact: .phone("+7 900 111 22 33", name: nil), channel: .phone)))
        #expect(known?.contact == "c1")
        #expect(known?.openedBy == anna)
        #expect(known?.organisation == "acme")
        let api = openedPayload(try when(state, .system("api"), open(contact: .id("c3"), language: "de", channel: .api, externalId: "req-42")))
        #expect(api?.contact == "c3" && api?.language == "de" && api?.externalId == "req-42" && api?.channel == .api)
        let mail = openedPayload(try when(state, mailer, open(contact: .email(" IVAN@ACME.EXAMPLE", name: "Ivan"), channel: .email)))
        #expect(mail?.contact == "c1")
        // Staff may file a ticket under another organisation.
        #expect(openedPayload(try when(state, anna, open(contact: .id("c1"), organisation: "globex")))?.organisation == "globex")
    }

    @Test("R4: an unknown e-mail sender becomes a contact of the organisation owning the domain")
    func autoCreatedContact() throws {
        let events = try when(state, mailer, open(contact: .email("Kate.Smith@ACME.example", name: "Kate Smith"), channel: .email))
        #expect(events.count == 2)
        #expect(events.first == .contactCreated(ContactCreated(contact: "auto-4", name: "Kate Smith", emails: ["kate.smith@acme.example"],
                                                               phones: [], organisation: "acme", language: "ru", automatic: true)))
        let t = openedPayload(events)
        #expect(t?.contact == "auto-4" && t?.organisation == "acme" && t?.tierId == "vip" && t?.openedBy == mailer)
        // Without a display name the address's local part is used; an unknown domain means no organisation.
        let stranger = try when(state, mailer, open(contact: .email("bob@example.org", name: nil), language: "en", channel: .email))
        #expect(stranger.first == .contactCreated(ContactCreated(contact: "auto-4", name: "bob", emails: ["bob@example.org"], phones: [],
                                                                 organisation: nil, language: "en", automatic: true)))
        #expect(openedPayload(stranger)?.organisation == nil)
        #expect(openedPayload(stranger)?.tierId == "standard")
        // An organisation named on the ticket wins over the domain.
        let named = try when(state, anna, open(contact: .email("kate@acme.example", name: "Kate"), organisation: "globex"))
        #expect(named.first == .contactCreated(ContactCreated(contact: "auto-4", name: "Kate", emails: ["kate@acme.example"], phones: [],
                                                              organisation: "globex", language: "ru", automatic: true)))
        // An unknown phone.
        let phone = try when(state, anna, open(contact: .phone("+7 (912) 345-67-89", name: nil), channel: .phone))
        #expect(phone.first == .contactCreated(ContactCreated(contact: "auto-4", name: "+7 (912) 345-67-89", emails: [],
                                                              phones: ["+79123456789"], organisation: nil, language: "ru", automatic: true)))
        // The generated id skips ids already taken.
        let taken = given(desk + [.contactCreated(ContactCreated(contact: "auto-4", name: "x", emails: [], phones: ["123"],
                                                                 organisation: nil, language: "ru", automatic: true))])
        let next = try when(taken, mailer, open(contact: .email("bob@example.org", name: nil)))
        #expect(openedPayload(next)?.contact == "auto-5")
    }

    @Test func openTicketRefusals() {
        expectRefused(state, c1, open(contact: .id("c2")), .forbidden, "only for themselves")
        expectRefused(state, c1, open(contact: .email("petr@acme.example", name: nil)), .forbidden, "only for themselves")
        #expect(throws: Never.self) { try when(state, c1, open(contact: .id("c1"))) }
        expectRefused(state, c1, open(" "), .invalid, "subject is empty")
        expectRefused(state, c1, open(String(repeating: "s", count: 501)), .invalid, "subject", "500")
        expectRefused(state, c1, open(body: String(repeating: "b", count: Desk.maxTextLength + 1)), .invalid, "message", "longer")
        expectRefused(state, c1, open(externalId: ""), .invalid, "external id is empty")
        expectRefused(state, mailer, open(), .invalid, "say who the ticket is from")
        expectRefused(state, anna, open(), .invalid, "say who the ticket is from")
        expectRefused(state, auditor, open(contact: .id("c1")), .forbidden, "auditors")
        expectRefused(state, former, open(contact: .id("c1")), .forbidden, "not an active staff member")
        expectRefused(state, anna, open(contact: .id("c99")), .notFound, "no contact 'c99'")
        expectRefused(state, anna, open(contact: .email("nobody", name: nil)), .invalid, "not an e-mail address")
        expectRefused(state, anna, open(contact: .phone("n/a", name: nil)), .invalid, "not a phone number")
        expectRefused(state, anna, open(contact: .id("c1"), organisation: "initech"), .notFound, "no organisation 'initech'")
        expectRefused(state, anna, open(contact: .email("kate@acme.example", name: nil), organisation: "initech"),
                      .notFound, "no organisation 'initech'")
        expectRefused(state, .contact("c99"), open(), .notFound, "no contact 'c99'")
    }

    @Test("R20: a premium ticket uses the organisation's quota")
    func premiumConsumesQuota() throws {
        let events = try when(state, c1, open(premium: true))
        #expect(events.count == 2)
        let t = openedPayload(events)
        #expect(t?.premium == true && t?.premiumRefused == nil)
        #expect(events.last == .premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 1)))
        #expect(then(state, events).organisations["acme"]?.premiumLeft == 1)
        // Staff asking for premium on a client's behalf uses the same quota.
        #expect(try when(state, anna, open(contact: .id("c2"), premium: true)).last == .premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 1)))
    }

    @Test("R20: without quota the ticket opens as normal, saying why")
    func premiumRefused() throws {
        let spent = given(desk + [opened(1), opened(2),
                                  .premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 1)),
                                  .premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 2))])
        let events = try when(spent, c1, open(premium: true))
        #expect(events.map(\.type) == ["TicketOpened"])
        let t = openedPayload(events)
        #expect(t?.ticket == 3 && t?.premium == false)
        #expect(t?.premiumRefused?.contains("Acme Ltd") == true)
        #expect(t?.premiumRefused?.contains("no premium tickets left") == true)
        let globex = openedPayload(try when(state, c3, open(premium: true)))
        #expect(globex?.premium == false && globex?.premiumRefused?.contains("Globex has no premium tickets left") == true)
        let loner = given(desk + [.contactCreated(ContactCreated(contact: "c4", name: "Solo", emails: ["solo@example.org"], phones: [],
                                                                 organisation: nil, language: "en", automatic: false))])
        let solo = try when(loner, .contact("c4"), open(premium: true))
        #expect(solo.count == 1)
        #expect(openedPayload(solo)?.premiumRefused?.contains("need an organisation") == true)
        // Not asking for premium records no refusal.
        #expect(openedPayload(try when(spent, c1, open()))?.premiumRefused == nil)
    }

    @Test("a client cannot file a ticket under another organisation (and spend its premium quota)")
    func clientCannotChooseAnotherOrganisation() {
        do throws(DomainError) {
            let events = try when(state, c3, open(organisation: "acme", premium: true))
            #expect(openedPayload(events)?.organisation == "globex")
            #expect(!events.contains(.premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 1))))
        } catch {
            #expect(error.code == .forbidden)
        }
    }
}

@Suite("Accepting (R7)")
struct AcceptTests {
    @Test func firstAcceptWins() throws {
        let state = given(desk + [opened(1)])
        let first = try when(state, anna, .acceptTicket(ticket: 1))
        #expect(first == [.ticketAccepted(TicketAccepted(ticket: 1, by: "anna"))])
        let after = then(state, first)
        #expect(after.tickets[1]?.responsible == "anna" && after.tickets[1]?.status == .accepted)
        expectRefused(after, boris, .acceptTicket(ticket: 1), .conflict, "#1 is already accepted by Anna Petrova")
        expectRefused(after, anna, .acceptTicket(ticket: 1), .conflict, "you already hold ticket #1")
    }

    @Test func acceptRefusals() {
        let state = given(desk + [opened(1), opened(2), opened(3), opened(4),
                                  status(2, .new, .closed, by: manager), status(3, .new, .resolved, by: manager),
                                  .markedAsSpam(MarkedAsSpam(ticket: 4, by: "anna")),
                                  .ticketMerged(TicketMerged(ticket: 1, into: 2, by: "anna"))])
        expectRefused(state, auditor, .acceptTicket(ticket: 2), .forbidden, "auditors change nothing")
        expectRefused(state, c1, .acceptTicket(ticket: 2), .forbidden, "only staff")
        expectRefused(state, mailer, .acceptTicket(ticket: 2), .forbidden, "only staff")
        expectRefused(state, anna, .acceptTicket(ticket: 9), .notFound, "no ticket #9")
        expectRefused(state, anna, .acceptTicket(ticket: 2), .illegalTransition, "#2 is closed", "reopen it first")
        expectRefused(state, anna, .acceptTicket(ticket: 3), .illegalTransition, "#3 is resolved")
        expectRefused(state, anna, .acceptTicket(ticket: 4), .illegalTransition, "#4 is marked as spam")
        expectRefused(state, anna, .acceptTicket(ticket: 1), .illegalTransition, "#1 was merged into #2")
    }

    @Test func aReopenedUnheldTicketCanBeAccepted() throws {
        let state = given(desk + [opened(1), status(1, .new, .closed, by: manager), status(1, .closed, .reopened, by: c1)])
        let events = try when(state, boris, .acceptTicket(ticket: 1))
        #expect(events == [.ticketAccepted(TicketAccepted(ticket: 1, by: "boris"))])
        #expect(then(state, events).tickets[1]?.status == .accepted)
    }
}

@Suite("Participants and reassignment (R10)")
struct ParticipantTests {
    /// Ticket 1 held by Anna; Denis (the developer) is not on it.
    let state = given(desk + [opened(1, participants: ["anna", "boris", "max", "olga"]), accepted(1)])

    @Test func addParticipants() throws {
        #expect(try when(state, boris, .addParticipant(ticket: 1, staff: "dev", role: .participant)) == [
            .participantAdded(ParticipantAdded(ticket: 1, staff: "dev", role: .participant, by: boris)),
        ])
        #expect(try when(state, anna, .addParticipant(ticket: 1, staff: "dev", role: .coExecutor)) == [
            .participantAdded(ParticipantAdded(ticket: 1, staff: "dev", role: .coExecutor, by: anna)),
        ])
        #expect(try when(state, manager, .addParticipant(ticket: 1, staff: "boris", role: .coExecutor)) == [
            .participantAdded(ParticipantAdded(ticket: 1, staff: "boris", role: .coExecutor, by: manager)),
        ])
        expectRefused(state, boris, .addParticipant(ticket: 1, staff: "dev", role: .coExecutor), .forbidden, "Anna Petrova", "co-executors")
        expectRefused(state, anna, .addParticipant(ticket: 1, staff: "boris", role: .participant), .conflict, "Boris Sidorov is already a participant of #1")
        let co = given(desk + [opened(1), accepted(1), .participantAdded(ParticipantAdded(ticket: 1, staff: "dev", role: .coExecutor, by: anna))])
        expectRefused(co, anna, .addParticipant(ticket: 1, staff: "dev", role: .coExecutor), .conflict, "already a co-executor")
        expectRefused(state, anna, .addParticipant(ticket: 1, staff: "zed", role: .participant), .notFound, "no active staff member 'zed'")
        expectRefused(state, anna, .addParticipant(ticket: 1, staff: "ivan", role: .participant), .notFound, "'ivan'")
        expectRefused(state, anna, .addParticipant(ticket: 5, staff: "dev", role: .participant), .notFound, "no ticket #5")
        expectRefused(state, auditor, .addParticipant(ticket: 1, staff: "dev", role: .participant), .forbidden, "auditors")
        expectRefused(state, c1, .addParticipant(ticket: 1, staff: "dev", role: .participant), .forbidden, "only staff")
        // Before anyone holds the ticket only a manager adds co-executors.
        let unheld = given(desk + [opened(1)])
        expectRefused(unheld, anna, .addParticipant(ticket: 1, staff: "dev", role: .coExecutor), .forbidden, "nobody yet")
    }

    @Test func removeParticipants() throws {
        #expect(try when(state, boris, .removeParticipant(ticket: 1, staff: "boris", role: .participant)) == [
            .participantRemoved(ParticipantRemoved(ticket: 1, staff: "boris", role: .participant, by: boris)),
        ])
        #expect(try when(state, anna, .removeParticipant(ticket: 1, staff: "boris", role: .participant)) == [
            .participantRemoved(ParticipantRemoved(ticket: 1, staff: "boris", role: .participant, by: anna)),
        ])
        #expect(try when(state, manager, .removeParticipant(ticket: 1, staff: "olga", role: .participant)).count == 1)
        expectRefused(state, boris, .removeParticipant(ticket: 1, staff: "olga", role: .participant), .forbidden, "the member themselves")
        expectRefused(state, anna, .removeParticipant(ticket: 1, staff: "anna", role: .participant), .conflict, "reassign it first")
        expectRefused(state, manager, .removeParticipant(ticket: 1, staff: "anna", role: .participant), .conflict, "responsible cannot leave")
        expectRefused(state, anna, .removeParticipant(ticket: 1, staff: "dev", role: .participant), .notFound, "'dev' is not a participant of #1")
        expectRefused(state, anna, .removeParticipant(ticket: 1, staff: "boris", role: .coExecutor), .notFound, "not a co-executor")
        expectRefused(state, auditor, .removeParticipant(ticket: 1, staff: "boris", role: .participant), .forbidden, "auditors")
        expectRefused(state, anna, .removeParticipant(ticket: 3, staff: "boris", role: .participant), .notFound, "no ticket #3")
    }

    @Test func reassign() throws {
        #expect(try when(state, manager, .reassign(ticket: 1, to: "boris")) == [
            .ticketReassigned(TicketReassigned(ticket: 1, from: "anna", to: "boris", by: "max")),
        ])
        let unheld = given(desk + [opened(1)])
        let events = try when(unheld, admin, .reassign(ticket: 1, to: "dev"))
        #expect(events == [.ticketReassigned(TicketReassigned(ticket: 1, from: nil, to: "dev", by: "olga"))])
        let after = then(unheld, events)
        #expect(after.tickets[1]?.responsible == "dev" && after.tickets[1]?.status == .accepted && after.tickets[1]?.acceptedAt == t0)
        expectRefused(state, anna, .reassign(ticket: 1, to: "boris"), .forbidden, "manager role")
        expectRefused(state, manager, .reassign(ticket: 1, to: "anna"), .conflict, "Anna Petrova already holds #1")
        expectRefused(state, manager, .reassign(ticket: 1, to: "audrey"), .notFound, "no active staff member 'audrey'")
        expectRefused(state, manager, .reassign(ticket: 1, to: "ivan"), .notFound, "'ivan'")
        expectRefused(state, manager, .reassign(ticket: 2, to: "boris"), .notFound, "no ticket #2")
        let spam = given(desk + [opened(1), .markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna"))])
        expectRefused(spam, manager, .reassign(ticket: 1, to: "boris"), .illegalTransition, "spam")
    }
}

@Suite("Escalation (R9)")
struct EscalationTests {
    static let due = utc("2025-03-10T11:00:00+03:00")
    let state = given(desk + [opened(1, escalationDue: Self.due)])

    @Test func theTimerEscalatesAfterTheDueTime() throws {
        let events = try when(state, timer, .escalate(ticket: 1), at: Self.due)
        #expect(events == [.ticketEscalated(TicketEscalated(ticket: 1, manager: "max", afterBusinessHours: 2))])
        let after = then(state, events)
        #expect(after.tickets[1]?.coExecutors == ["max"])
        #expect(after.tickets[1]?.awaitsEscalation == false)
        #expect(after.tickets[1]?.responsible == nil)
        expectRefused(after, timer, .escalate(ticket: 1), at: Self.due.addingTimeInterval(60), .conflict, "does not await escalation")
        // Later is fine too; the rule in force names the manager.
        let anna3 = given(desk + [opened(1, escalationDue: Self.due),
                                  .escalationRuleSet(EscalationRuleSet(rule: EscalationRule(afterBusinessHours: 3, manager: "anna")))])
        #expect(try when(anna3, timer, .escalate(ticket: 1), at: Self.due.addingTimeInterval(86_400)) == [
            .ticketEscalated(TicketEscalated(ticket: 1, manager: "anna", afterBusinessHours: 3)),
        ])
    }

    @Test func escalationRefusals() {
        expectRefused(state, timer, .escalate(ticket: 1), at: Self.due.addingTimeInterval(-1), .conflict, "#1 escalates at", "not before")
        expectRefused(state, manager, .escalate(ticket: 1), at: Self.due, .forbidden, "timer")
        expectRefused(state, c1, .escalate(ticket: 1), at: Self.due, .forbidden, "timer")
        expectRefused(state, timer, .escalate(ticket: 2), at: Self.due, .notFound, "no ticket #2")
        let taken = given(desk + [opened(1, escalationDue: Self.due), accepted(1)])
        expectRefused(taken, timer, .escalate(ticket: 1), at: Self.due, .conflict, "#1 does not await escalation")
        let noRule = given(desk + [opened(1, escalationDue: Self.due), .escalationRuleSet(EscalationRuleSet(rule: nil))])
        expectRefused(noRule, timer, .escalate(ticket: 1), at: Self.due, .conflict, "no escalation rule")
        let noDue = given(desk + [opened(1)])
        expectRefused(noDue, timer, .escalate(ticket: 1), at: Self.due, .conflict, "does not await escalation")
        let spam = given(desk + [opened(1, escalationDue: Self.due), .markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna"))])
        expectRefused(spam, timer, .escalate(ticket: 1), at: Self.due, .conflict, "does not await escalation")
        let closed = given(desk + [opened(1, escalationDue: Self.due), status(1, .new, .closed, by: manager)])
        expectRefused(closed, timer, .escalate(ticket: 1), at: Self.due, .conflict, "does not await escalation")
    }
}
