import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

@Suite("Comments and the notify block (R11, R12, R26)")
struct CommentTests {
    @Test("a staff answer goes by default to the previous comment's recipients")
    func defaultRecipientsAfterTheOpening() throws {
        let state = given(ticket1Accepted)
        let d = try Desk.decide(Command(actor: anna, commentBody(1, "Unplug it first.")), at: t0, state: state)
        #expect(d.events == [
            commented(1, 2, by: anna, "Unplug it first.",
                      notify: [.staff("anna"), .staff("boris"), .staff("dev"), .staff("max"), .staff("olga"), .contact("c1")]),
        ])
        #expect(d.outcome.ticket == 1 && d.outcome.comment == 2)
    }

    /// Ticket 1, comment 2: Boris answered the client and Denis.
    let borisAnswered = given(ticket1Accepted + [
        commented(1, 2, by: boris, "Which model?", notify: [.contact("c1"), .staff("dev"), .staff("boris")]),
    ])

    @Test("an internal comment drops the client from the default recipients")
    func internalDropsContacts() throws {
        #expect(try when(borisAnswered, anna, commentBody(1, "Looks like a firmware bug", internal: true)) == [
            commented(1, 3, by: anna, "Looks like a firmware bug", internal: true,
                      notify: [.staff("dev"), .staff("boris"), .staff("anna")]),
        ])
    }

    @Test("a to-client comment after an internal one adds the ticket's contact back")
    func toClientAddsTheContact() throws {
        let state = then(borisAnswered, [commented(1, 3, by: anna, "Firmware?", internal: true,
                                                   notify: [.staff("dev"), .staff("boris"), .staff("anna")])])
        #expect(try when(state, manager, commentBody(1, "We are on it.")) == [
            commented(1, 4, by: manager, "We are on it.",
                      notify: [.staff("dev"), .staff("boris"), .staff("anna"), .contact("c1"), .staff("max")]),
        ])
    }

    @Test("an explicit notify block replaces the default (duplicates dropped, the author always included)")
    func explicitNotify() throws {
        #expect(try when(borisAnswered, anna, commentBody(1, "Noted", notify: [.contact("c1"), .staff("dev"), .contact("c1")])) == [
            commented(1, 3, by: anna, "Noted", notify: [.contact("c1"), .staff("dev"), .staff("anna")]),
        ])
        // Unticking the client: an internal discussion with only Denis.
        #expect(try when(borisAnswered, anna, commentBody(1, "Denis, look", internal: true, notify: [.staff("dev")])) == [
            commented(1, 3, by: anna, "Denis, look", internal: true, notify: [.staff("dev"), .staff("anna")]),
        ])
        // A colleague from the client's organisation may be notified.
        #expect(try when(borisAnswered, anna, commentBody(1, "FYI", notify: [.contact("c2")])) == [
            commented(1, 3, by: anna, "FYI", notify: [.contact("c2"), .staff("anna")]),
        ])
    }

    @Test func notifyRefusals() {
        let state = given(ticket1Accepted + [
            .contactCreated(ContactCreated(contact: "auto-4", name: "dup", emails: ["d@x.example"], phones: [], organisation: "acme",
                                           language: "ru", automatic: true)),
            .contactMerged(ContactMerged(contact: "auto-4", into: "c1")),
        ])
        expectRefused(state, anna, commentBody(1, "psst", internal: true, notify: [.staff("dev"), .contact("c1")]),
                      .invalid, "internal comment cannot notify a client")
        expectRefused(state, anna, commentBody(1, "hi", notify: [.contact("c3")]), .forbidden, "Gina Globex is not a contact of #1's client")
        expectRefused(state, anna, commentBody(1, "hi", notify: [.staff("zed")]), .notFound, "no active staff member 'zed' to notify")
        expectRefused(state, anna, commentBody(1, "hi", notify: [.staff("ivan")]), .notFound, "'ivan'")
        expectRefused(state, anna, commentBody(1, "hi", notify: [.contact("c99")]), .notFound, "no contact 'c99' to notify")
        expectRefused(state, anna, commentBody(1, "hi", notify: [.contact("auto-4")]), .notFound, "no contact 'auto-4' to notify")
        expectRefused(state, anna, commentBody(1, "hi", notify: [.system("mail")]), .invalid, "desk itself cannot be notified")
    }

    @Test("a client's reply notifies the previous staff recipients, the responsible and the client")
    func clientReply() throws {
        let state = given(ticket1Accepted + [
            commented(1, 2, by: manager, "Which model?", notify: [.contact("c1"), .staff("dev"), .staff("max")]),
        ])
        let d = try Desk.decide(Command(actor: c1, commentBody(1, "The LaserJet")), at: t0, state: state)
        #expect(d.events == [
            commented(1, 3, by: c1, "The LaserJet", notify: [.staff("dev"), .staff("max"), .staff("anna"), .contact("c1")]),
        ])
        #expect(d.outcome.comment == 3)
        // Nobody on the previous comment and nobody responsible: every participant.
        let lonely = given(desk + [opened(1), commented(1, 2, by: anna, "Mail bounce", notify: [.contact("c1")])])
        #expect(try when(lonely, c1, commentBody(1, "Still there?")) == [
            commented(1, 3, by: c1, "Still there?",
                      notify: [.staff("anna"), .staff("boris"), .staff("dev"), .staff("max"), .staff("olga"), .contact("c1")]),
        ])
        // The notify block a client sends is ignored.
        #expect(try when(state, c1, commentBody(1, "x", notify: [.contact("c3")])) == [
            commented(1, 3, by: c1, "x", notify: [.staff("dev"), .staff("max"), .staff("anna"), .contact("c1")]),
        ])
    }

    @Test func clientsCannotWriteInternalComments() {
        expectRefused(given(ticket1Accepted), c1, commentBody(1, "secret", internal: true), .forbidden, "clients cannot write internal comments")
    }

    @Test("a client cannot see another client's ticket: the answer is the same as for a missing one")
    func clientsReachOnlyTheirTickets() throws {
        let state = given(ticket1Accepted)
        let other = refusal(state, c3, commentBody(1, "hello?"))
        let missing = refusal(state, c3, commentBody(99, "hello?"))
        #expect(other == DomainError(.notFound, "no ticket #1"))
        #expect(missing == DomainError(.notFound, "no ticket #99"))
        // A colleague without organisation sharing is another client too.
        expectRefused(state, c2, commentBody(1, "me too"), .notFound, "no ticket #1")
        expectRefused(state, c2, .rateAnswer(ticket: 1, comment: nil, score: 5, text: nil), .notFound, "no ticket #1")
        expectRefused(state, c3, .acceptTicket(ticket: 1), .forbidden, "only staff")
    }

    @Test("R12: organisation sharing lets a colleague in, nobody else")
    func organisationSharing() throws {
        let state = given(ticket1Accepted + [.visibilitySet(VisibilitySet(settings: VisibilitySettings(organisationSharing: true)))])
        #expect(try when(state, c2, commentBody(1, "I'm Ivan's new manager")) == [
            commented(1, 2, by: c2, "I'm Ivan's new manager",
                      notify: [.staff("anna"), .staff("boris"), .staff("dev"), .staff("max"), .staff("olga"), .contact("c2")]),
        ])
        expectRefused(state, c3, commentBody(1, "me too"), .notFound, "no ticket #1")
        // A ticket filed without an organisation is not shared.
        let noOrg = given(desk + [opened(1, organisation: nil), .visibilitySet(VisibilitySet(settings: VisibilitySettings(organisationSharing: true)))])
        expectRefused(noOrg, c2, commentBody(1, "me too"), .notFound, "no ticket #1")
    }

    @Test("R14: a client's reply brings the ticket back to work")
    func clientReplyChangesStatus() throws {
        func reply(from status: TicketStatus, held: Bool = true) throws -> [DeskEvent] {
            var events = desk + [opened(1)]
            if held { events.append(accepted(1)) }
            events.append(SupportDeskTests.status(1, held ? .accepted : .new, status))
            return try when(given(events), c1, commentBody(1, "Any news?"))
        }
        func change(_ from: TicketStatus, _ to: TicketStatus) -> DeskEvent {
            .statusChanged(StatusChanged(ticket: 1, from: from, to: to, by: c1, reason: "the client replied", until: nil))
        }
        #expect(try reply(from: .waitingForClient).last == change(.waitingForClient, .accepted))
        #expect(try reply(from: .postponed).last == change(.postponed, .accepted))
        #expect(try reply(from: .resolved).last == change(.resolved, .reopened))
        #expect(try reply(from: .closed).last == change(.closed, .reopened))
        #expect(try reply(from: .postponed, held: false).last == change(.postponed, .new))
        #expect(try reply(from: .reopened).map(\.type) == ["CommentAdded"])
        #expect(try when(given(ticket1Accepted), c1, commentBody(1, "Any news?")).map(\.type) == ["CommentAdded"])
        // Staff comments do not move the status.
        let waiting = given(ticket1Accepted + [status(1, .accepted, .waitingForClient)])
        #expect(try when(waiting, anna, commentBody(1, "Reminder")).map(\.type) == ["CommentAdded"])
    }

    @Test func commentRefusals() throws {
        let state = given(desk + [opened(1), opened(2), opened(3), .markedAsSpam(MarkedAsSpam(ticket: 2, by: "anna")),
                                  .ticketMerged(TicketMerged(ticket: 3, into: 1, by: "anna"))])
        expectRefused(state, anna, commentBody(1, " "), .invalid, "comment is empty")
        expectRefused(state, anna, commentBody(1, String(repeating: "x", count: Desk.maxTextLength + 1)), .invalid, "longer than")
        let file = AttachmentRef(sha256: "00", filename: "log.txt", contentType: "text/plain", size: 1)
        #expect(try when(state, anna, commentBody(1, "", attachments: [file])) == [
            commented(1, 2, by: anna, "", notify: [.staff("anna"), .staff("boris"), .staff("dev"), .staff("max"), .staff("olga"),
                                                   .contact("c1")], attachments: [file]),
        ])
        expectRefused(state, anna, commentBody(3, "hello"), .illegalTransition, "#3 was merged into #1", "write there")
        expectRefused(state, c1, commentBody(3, "hello"), .illegalTransition, "merged into #1")
        expectRefused(state, c1, commentBody(2, "hello"), .illegalTransition, "#2 is closed as spam")
        expectRefused(state, mailer, commentBody(1, "auto-reply"), .forbidden, "desk does not write comments")
        expectRefused(state, auditor, commentBody(1, "hm", internal: true), .forbidden, "auditors")
        expectRefused(state, former, commentBody(1, "hm"), .forbidden, "not an active staff member")
        expectRefused(state, anna, commentBody(7, "hm"), .notFound, "no ticket #7")
    }

    @Test("the default recipients never include the desk itself (tickets opened by e-mail intake)")
    func defaultRecipientsOfAMailTicket() throws {
        let state = given(desk + [opened(1, by: mailer, channel: .email), accepted(1)])
        let notify = commentPayload(try when(state, anna, commentBody(1, "Hello Ivan")))?.notify ?? []
        #expect(notify.contains(.contact("c1")))
        #expect(notify.contains(.staff("anna")))
        #expect(!notify.contains { if case .system = $0 { true } else { false } }, "\(notify)")
    }

    @Test("the default recipients skip staff who have left")
    func defaultRecipientsSkipInactiveStaff() throws {
        // Ivan was notified of comment 2 and has been deactivated since (he is inactive in the fixture).
        let state = given(ticket1Accepted + [commented(1, 2, by: anna, "Ivan, ideas?", notify: [.staff("ivan"), .staff("anna"), .contact("c1")])])
        let staffReply = commentPayload(try when(state, anna, commentBody(1, "Update")))?.notify ?? []
        let clientReply = commentPayload(try when(state, c1, commentBody(1, "Thanks")))?.notify ?? []
        #expect(staffReply.contains(.contact("c1")) && clientReply.contains(.staff("anna")))
        #expect(!staffReply.contains(.staff("ivan")))
        #expect(!clientReply.contains(.staff("ivan")))
    }
}

@Suite("Deliveries")
struct DeliveryTests {
    let state = given(ticket1Answered)

    @Test func theMailSenderRecordsDeliveries() throws {
        #expect(try when(state, mailer, .recordDelivery(ticket: 1, comment: 2, recipient: c1, status: .delivered, detail: "250 OK")) == [
            .deliveryRecorded(DeliveryRecorded(ticket: 1, comment: 2, recipient: c1, status: .delivered, detail: "250 OK")),
        ])
        expectRefused(state, anna, .recordDelivery(ticket: 1, comment: 2, recipient: c1, status: .delivered, detail: nil), .forbidden, "mail sender")
        expectRefused(state, c1, .recordDelivery(ticket: 1, comment: 2, recipient: c1, status: .delivered, detail: nil), .forbidden, "mail sender")
        expectRefused(state, mailer, .recordDelivery(ticket: 1, comment: 9, recipient: c1, status: .failed, detail: nil), .notFound, "#1 has no comment 9")
        expectRefused(state, mailer, .recordDelivery(ticket: 1, comment: 2, recipient: c2, status: .failed, detail: nil),
                      .invalid, "contact:c2 was not notified of comment 2")
        expectRefused(state, mailer, .recordDelivery(ticket: 4, comment: 1, recipient: c1, status: .failed, detail: nil), .notFound, "no ticket #4")
    }
}
