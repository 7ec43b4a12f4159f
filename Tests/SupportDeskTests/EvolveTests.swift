import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

@Suite("DeskState.evolve")
struct EvolveTests {
    @Test("each stream's version counts its own events")
    func versionsPerStream() {
        let s = given(desk + [opened(1), accepted(1), commented(1, 2, by: anna, "hi", notify: [anna]), opened(2),
                              .premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 1)),
                              .portalAccessChanged(PortalAccessChanged(contact: "c1", granted: true))])
        #expect(s.account.version == 15)
        #expect(s.organisations["acme"]?.version == 3)
        #expect(s.organisations["globex"]?.version == 1)
        #expect(s.contacts["c1"]?.version == 2)
        #expect(s.contacts["c2"]?.version == 1)
        #expect(s.tickets[1]?.version == 3)
        #expect(s.tickets[2]?.version == 1)
        #expect(s.organisations["acme"]?.premiumBought == 2 && s.organisations["acme"]?.premiumLeft == 1)
    }

    @Test("events about things that do not exist change nothing")
    func orphanEvents() {
        let base = given(desk)
        let s = then(base, [.premiumQuotaUsed(PremiumQuotaUsed(organisation: "initech", ticket: 1)),
                            .contactNoteAdded(ContactNoteAdded(contact: "c99", author: "anna", text: "x")),
                            accepted(5), .staffChanged(StaffChanged(staff: "zed", name: "Zed"))])
        #expect(s.organisations == base.organisations && s.contacts == base.contacts && s.tickets.isEmpty)
        #expect(s.account.staff == base.account.staff)
    }

    @Test("a contact merge re-points the address indexes to the survivor")
    func contactMergeIndexes() {
        let s = given(desk + ContactMergeTests.duplicate + ContactMergeTests.merged)
        #expect(s.contactByEmail["ivan.home@mail.example"] == "c1")
        #expect(s.contactByPhone["+79990000000"] == "c1")
        #expect(s.contactByEmail["ivan@acme.example"] == "c1")
        #expect(s.contacts["auto-4"]?.mergedInto == "c1")
        #expect(s.survivor(of: "auto-4") == "c1")
        #expect(s.survivor(of: "c2") == "c2")
        #expect(s.survivor(of: "nobody") == "nobody")
        #expect(s.contacts["c1"]?.emails == ["ivan@acme.example", "ivan.home@mail.example"])
        #expect(s.contacts["c1"]?.phones == ["+79001112233", "+79990000000"])
        #expect(s.contacts["c1"]?.portalAccess == true)
        #expect(s.contacts["c1"]?.version == 3)
        #expect(s.contacts["auto-4"]?.version == 3)
        // Chains resolve to the end, and a cycle written by mistake does not hang.
        let chain = then(s, [.contactMerged(ContactMerged(contact: "c1", into: "c2"))])
        #expect(chain.survivor(of: "auto-4") == "c2")
        let cycle = then(chain, [.contactMerged(ContactMerged(contact: "c2", into: "auto-4"))])
        _ = cycle.survivor(of: "auto-4")
    }

    @Test("lookups are by normalised address")
    func addressIndexesAreNormalised() {
        let s = given(desk + [.contactEmailAttached(ContactEmailAttached(contact: "c2", email: "Petr.Home@Mail.Example")),
                              .contactPhoneAttached(ContactPhoneAttached(contact: "c2", phone: "+7 (495) 123-45-67"))])
        #expect(s.contactByEmail["petr.home@mail.example"] == "c2")
        #expect(s.contactByPhone["+74951234567"] == "c2")
    }

    @Test("awaitsEscalation: open, unheld, not escalated, not spam or merged, with a due time")
    func awaitsEscalation() {
        let due = utc("2025-03-10T08:00:00Z")
        #expect(given(desk + [opened(1, escalationDue: due)]).tickets[1]?.awaitsEscalation == true)
        #expect(given(desk + [opened(1)]).tickets[1]?.awaitsEscalation == false)
        #expect(given(desk + [opened(1, escalationDue: due), accepted(1)]).tickets[1]?.awaitsEscalation == false)
        #expect(given(desk + [opened(1, escalationDue: due),
                              .ticketReassigned(TicketReassigned(ticket: 1, from: nil, to: "boris", by: "max"))]).tickets[1]?.awaitsEscalation == false)
        #expect(given(desk + [opened(1, escalationDue: due),
                              .ticketEscalated(TicketEscalated(ticket: 1, manager: "max", afterBusinessHours: 2))]).tickets[1]?.awaitsEscalation == false)
        #expect(given(desk + [opened(1, escalationDue: due), .markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna"))]).tickets[1]?.awaitsEscalation == false)
        #expect(given(desk + [opened(1, escalationDue: due), opened(2),
                              .ticketMerged(TicketMerged(ticket: 1, into: 2, by: "anna"))]).tickets[1]?.awaitsEscalation == false)
        #expect(given(desk + [opened(1, escalationDue: due), status(1, .new, .closed, by: manager)]).tickets[1]?.awaitsEscalation == false)
        // A client reopening an unheld closed ticket makes it wait again.
        #expect(given(desk + [opened(1, escalationDue: due), status(1, .new, .closed, by: manager),
                              status(1, .closed, .reopened, by: c1)]).tickets[1]?.awaitsEscalation == true)
    }

    @Test("the opening message is comment 1, sent to the staff and the ticket's client (whoever typed it in)")
    func openingMessage() throws {
        let s = given(desk + [opened(1), opened(2, by: anna, channel: .phone), opened(3, by: mailer, channel: .email)])
        let first = try #require(s.tickets[1]?.comments.first)
        #expect(first.number == 1 && first.author == c1 && first.text == "It smokes. What now?" && !first.isInternal && first.at == t0)
        #expect(first.notify == [.staff("anna"), .staff("boris"), .staff("dev"), .staff("max"), .staff("olga"), .contact("c1")])
        #expect(s.tickets[2]?.comments.first?.notify == workingStaff.map(Party.staff) + [s.tickets[2]!.contact].map(Party.contact))
        #expect(s.tickets[3]?.comments.first?.notify.contains { if case .system = $0 { true } else { false } } == false)
        #expect(s.tickets[1]?.openedAt == t0 && s.tickets[1]?.status == .new && s.tickets[1]?.participants == Set(workingStaff))
        #expect(s.lastTicketNumber == 3)
        #expect(given(desk + [opened(5), opened(3)]).lastTicketNumber == 5)
    }

    @Test("status folds keep the resolution and closing times")
    func statusTimes() {
        var s = given(ticket1Answered)
        let resolvedAt = t0.addingTimeInterval(3600), closedAt = t0.addingTimeInterval(7200), reopenedAt = t0.addingTimeInterval(9000)
        s.evolve(status(1, .accepted, .resolved), at: resolvedAt)
        #expect(s.tickets[1]?.resolvedAt == resolvedAt && s.tickets[1]?.closedAt == nil)
        s.evolve(status(1, .resolved, .closed), at: closedAt)
        #expect(s.tickets[1]?.resolvedAt == resolvedAt && s.tickets[1]?.closedAt == closedAt)
        s.evolve(status(1, .closed, .reopened, by: c1), at: reopenedAt)
        #expect(s.tickets[1]?.status == .reopened && s.tickets[1]?.resolvedAt == nil && s.tickets[1]?.closedAt == nil)
        s.evolve(accepted(1, by: "boris"), at: reopenedAt)
        #expect(s.tickets[1]?.status == .accepted && s.tickets[1]?.responsible == "boris")
    }

    @Test("first response: the first staff comment addressed to the client")
    func firstResponse() {
        var s = given(ticket1Accepted)
        s.evolve(commented(1, 2, by: c1, "hello?", notify: [anna, c1]), at: t0.addingTimeInterval(60))
        s.evolve(commented(1, 3, by: anna, "hm", internal: true, notify: [anna]), at: t0.addingTimeInterval(120))
        #expect(s.tickets[1]?.firstResponseAt == nil)
        s.evolve(commented(1, 4, by: boris, "Hello!", notify: [boris, c1]), at: t0.addingTimeInterval(180))
        s.evolve(commented(1, 5, by: anna, "More", notify: [anna, c1]), at: t0.addingTimeInterval(240))
        #expect(s.tickets[1]?.firstResponseAt == t0.addingTimeInterval(180))
        #expect(s.tickets[1]?.lastRecipients == [anna, c1])
        #expect(s.tickets[1]?.comments.map(\.number) == [1, 2, 3, 4, 5])
    }

    @Test("accumulating folds: time, ratings, evaluations, deliveries, participants")
    func accumulations() {
        let s = given(ticket1Answered + [
            .timeLogged(TimeLogged(ticket: 1, staff: "dev", minutes: 30, on: LocalDate(year: 2025, month: 3, day: 5), note: nil)),
            .timeLogged(TimeLogged(ticket: 1, staff: "dev", minutes: 45, on: LocalDate(year: 2025, month: 3, day: 6), note: nil)),
            .timeLogged(TimeLogged(ticket: 1, staff: "anna", minutes: 5, on: LocalDate(year: 2025, month: 3, day: 6), note: nil)),
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: nil, score: 5, text: nil)),
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: 2, score: 3, text: nil)),
            .answerEvaluated(AnswerEvaluated(ticket: 1, staff: "anna", evaluation: evaluation)),
            .deliveryRecorded(DeliveryRecorded(ticket: 1, comment: 2, recipient: c1, status: .queued, detail: nil)),
            .deliveryRecorded(DeliveryRecorded(ticket: 1, comment: 2, recipient: c1, status: .delivered, detail: nil)),
            .participantAdded(ParticipantAdded(ticket: 1, staff: "dev", role: .coExecutor, by: anna)),
            .participantRemoved(ParticipantRemoved(ticket: 1, staff: "boris", role: .participant, by: boris)),
            .ticketClassified(TicketClassified(ticket: 1, classification: Classification(type: .outage), by: "anna")),
            .levelChanged(LevelChanged(ticket: 1, from: .l1, to: .l2, by: "anna")),
        ])
        let t = s.tickets[1]
        #expect(t?.loggedMinutes == ["dev": 75, "anna": 5])
        #expect(t?.ratingScores == [5, 3])
        #expect(t?.evaluations == ["anna": evaluation])
        #expect(t?.deliveries == ["2/contact:c1": .delivered])
        #expect(t?.coExecutors == ["dev"])
        #expect(t?.participants.contains("boris") == false)
        #expect(t?.staffInvolved == Set(["anna", "dev", "max", "olga"]))
        #expect(t?.classification == Classification(type: .outage))
        #expect(t?.level == .l2)
    }

    @Test("account folds: working staff, signatures, tiers, formulas")
    func accountFolds() {
        let s = given(desk + [
            .staffChanged(StaffChanged(staff: "anna", signature: "Anna")),
            .staffChanged(StaffChanged(staff: "anna", name: "Anna P.", signature: "")),
            .slaTierDefined(SLATierDefined(tier: vipTier, isDefault: true)),
            .payrollFormulaPublished(PayrollFormulaPublished(version: 1, effectiveFrom: LocalDate(year: 2025, month: 1, day: 1), source: "amount = 1", note: nil)),
            .payrollFormulaPublished(PayrollFormulaPublished(version: 2, effectiveFrom: LocalDate(year: 2025, month: 4, day: 1), source: "amount = 2", note: nil)),
            .organisationChanged(OrganisationChanged(organisation: "acme", tierId: "")),
            .contactChanged(ContactChanged(contact: "c1", organisation: "")),
        ])
        #expect(s.account.workingStaff == workingStaff)
        #expect(s.account.staff["anna"]?.signature == nil && s.account.staff["anna"]?.name == "Anna P.")
        #expect(s.account.defaultTier == "vip")
        #expect(s.account.timeZone == "Europe/Moscow" && s.account.defaultLanguage == "ru")
        #expect(s.account.formula(on: LocalDate(year: 2025, month: 3, day: 31))?.version == 1)
        #expect(s.account.formula(on: LocalDate(year: 2025, month: 4, day: 1))?.version == 2)
        #expect(s.account.formula(on: LocalDate(year: 2024, month: 12, day: 31)) == nil)
        #expect(s.organisations["acme"]?.tierId == nil)
        #expect(s.contacts["c1"]?.organisation == nil)
    }

    @Test("deciding and folding agree: the decider's events applied give the state the next command sees")
    func decideThenFoldScenario() throws {
        var s = given(desk)
        func run(_ actor: Party, _ body: CommandBody) throws {
            s = then(s, try when(s, actor, body))
        }
        try run(mailer, .openTicket(OpenTicket(channel: .email, subject: "Printer", body: "Smoke", contact: .email("ivan@acme.example", name: nil))))
        try run(anna, .acceptTicket(ticket: 1))
        try run(anna, commentBody(1, "Unplug it"))
        try run(c1, commentBody(1, "Done, thanks"))
        try run(anna, .changeStatus(ticket: 1, to: .resolved, reason: nil, until: nil))
        try run(c1, .rateAnswer(ticket: 1, comment: 2, score: 5, text: nil))
        try run(anna, .close(ticket: 1, evaluation: evaluation, reason: nil))
        try run(c1, commentBody(1, "One more thing"))
        let t = try #require(s.tickets[1])
        #expect(t.status == .reopened)
        #expect(t.comments.count == 4)
        #expect(t.ratingScores == [5] && t.evaluations["anna"] == evaluation)
        #expect(t.version == 10)
        #expect(t.comments.last?.notify == [.staff("anna"), .staff("boris"), .staff("dev"), .staff("max"), .staff("olga"), .contact("c1")])
    }
}
