import DeskEngine
import EventLog
import Foundation
import MailDesk
@testable import Projections
import SupportDesk
import Testing

/// The outbox folded over the whole log, directly (no runner).
func foldedOutbox(_ env: MailEnv, retryBase: TimeInterval = 30, retryCap: TimeInterval = 3600) throws -> Outbox {
    let o = Outbox(retryBase: retryBase, retryCap: retryCap)
    o.apply(try env.events())
    return o
}

extension MailEnv {
    /// A ticket from Carl (c1) by mail: ticket 1.
    func ticketFromCarl(subject: String = "Printer does not print", body: String = "Hello,\nthe printer does not print.",
                        messageId: String = "carl-1@client.example") async throws {
        let r = try await receive(TestMail(from: "Carl Client <carl@client.example>", subject: subject, messageId: messageId, body: body))
        #expect(r.disposition == "new" && r.ticket == 1)
    }

    /// A comment by Anna (s1) on ticket 1.
    @discardableResult
    func staffComment(_ text: String, isInternal: Bool = false, notify: [Party]? = nil,
                      attachments: [AttachmentRef] = [], ticket: TicketNumber = 1) async throws -> CommandOutcome {
        try await processor.execute(Command(actor: TestDesk.anna, .comment(
            ticket: ticket, text: text, internal: isInternal, notify: notify, attachments: attachments, channel: nil, externalId: nil)))
    }

    @discardableResult
    func recordDelivery(_ status: DeliveryStatus, comment: CommentNumber, contact: ContactId = "c1", detail: String? = nil,
                        ticket: TicketNumber = 1) async throws -> CommandOutcome {
        try await processor.execute(Command(actor: .system("mailer"), .recordDelivery(
            ticket: ticket, comment: comment, recipient: .contact(contact), status: status, detail: detail)))
    }
}

@Suite struct OutboxTests {
    @Test func aStaffCommentToAContactIsPending() async throws {
        let env = try await MailEnv()
        try await env.ticketFromCarl()
        // The opening message (by the mail intake) is not outgoing mail.
        #expect(try foldedOutbox(env).all.isEmpty)
        env.clock.advance(by: 90)
        let o = try await env.staffComment("Please restart it.")
        #expect(o.comment == 2)
        let box = try foldedOutbox(env)
        #expect(box.all.count == 1)
        let e = try #require(box.all.first)
        #expect(e.ticket == 1 && e.comment == 2 && e.contact == "c1")
        #expect(e.status == .pending)
        #expect(e.attempts == 0)
        #expect(e.createdAt == TestDesk.start.addingTimeInterval(90))
        #expect(e.nextAttemptAt == e.createdAt)
        #expect(e.lastError == nil)
        #expect(e.key == "1/2/c1")
        #expect(box.due(at: env.clock.now()).map(\.key) == ["1/2/c1"])
        #expect(box.due(at: env.clock.now().addingTimeInterval(-1)).isEmpty)
        #expect(box.nextDue == e.createdAt)
    }

    @Test func oneEntryPerNotifiedContact() async throws {
        let env = try await MailEnv()
        try await env.ticketFromCarl()
        try await env.staffComment("To both of you.", notify: [.contact("c1"), .contact("c2"), .staff("admin")])
        let box = try foldedOutbox(env)
        #expect(box.all.map(\.key) == ["1/2/c1", "1/2/c2"])
        #expect(box.entries(.pending).count == 2)
    }

    @Test func internalCommentsAndTheClientsOwnCommentsAreNotMail() async throws {
        let env = try await MailEnv()
        try await env.ticketFromCarl()
        try await env.staffComment("Internal: check the toner stock.", isInternal: true)
        #expect(try foldedOutbox(env).all.isEmpty)
        // Carl writes through the portal.
        _ = try await env.processor.execute(Command(actor: .contact("c1"), .comment(
            ticket: 1, text: "Also the scanner.", internal: false, notify: nil, attachments: [], channel: .portal, externalId: nil)))
        // And by mail.
        _ = try await env.receive(TestMail(from: "carl@client.example", subject: "Re: [#1] Printer", messageId: "carl-2@client.example",
                                           body: "And the fax."))
        #expect(try await env.processor.ticket(1)?.comments.count == 4)
        #expect(try foldedOutbox(env).all.isEmpty)
    }

    @Test func deliveryOutcomesMoveTheEntryWithBackoff() async throws {
        let env = try await MailEnv()
        try await env.ticketFromCarl()
        try await env.staffComment("Please restart it.")
        let t0 = env.clock.now()

        env.clock.advance(by: 5)
        try await env.recordDelivery(.queued, comment: 2, detail: "attempt 1")
        var e = try #require(try foldedOutbox(env).all.first)
        #expect(e.status == .sending)
        #expect(e.attempts == 1)
        #expect(try foldedOutbox(env).due(at: t0.addingTimeInterval(10_000)).isEmpty, "an entry being sent is not due")

        env.clock.advance(by: 2)
        let failedAt = env.clock.now()
        try await env.recordDelivery(.failed, comment: 2, detail: "sendmail exited with status 75")
        e = try #require(try foldedOutbox(env, retryBase: 30).all.first)
        #expect(e.status == .failed)
        #expect(e.attempts == 1)
        #expect(e.lastError == "sendmail exited with status 75")
        #expect(e.nextAttemptAt == failedAt.addingTimeInterval(30))
        #expect(try foldedOutbox(env, retryBase: 30).due(at: failedAt.addingTimeInterval(29)).isEmpty)
        #expect(try foldedOutbox(env, retryBase: 30).due(at: failedAt.addingTimeInterval(30)).count == 1)

        env.clock.advance(by: 40)
        try await env.recordDelivery(.queued, comment: 2, detail: "attempt 2")
        e = try #require(try foldedOutbox(env).all.first)
        #expect(e.status == .sending && e.attempts == 2)
        env.clock.advance(by: 3)
        let failedAgainAt = env.clock.now()
        try await env.recordDelivery(.failed, comment: 2, detail: "again")
        e = try #require(try foldedOutbox(env, retryBase: 30).all.first)
        #expect(e.status == .failed && e.attempts == 2)
        #expect(e.nextAttemptAt == failedAgainAt.addingTimeInterval(60), "second failure: twice the base")
        // The cap bounds the backoff.
        #expect(try foldedOutbox(env, retryBase: 30, retryCap: 45).all.first?.nextAttemptAt == failedAgainAt.addingTimeInterval(45))

        try await env.recordDelivery(.queued, comment: 2, detail: "attempt 3")
        try await env.recordDelivery(.delivered, comment: 2, detail: "handed to sendmail")
        let box = try foldedOutbox(env)
        #expect(box.all.isEmpty)
        #expect(box.deliveredCount == 1)
        #expect(box.nextDue == nil)
    }

    @Test func parkedKeepsItsReasonAndIsNeverDue() async throws {
        let env = try await MailEnv()
        try await env.ticketFromCarl()
        try await env.staffComment("Please restart it.", notify: [.contact("c1"), .contact("c2")])
        try await env.recordDelivery(.parked, comment: 2, contact: "c2", detail: "Bella Buyer has no e-mail address")
        let box = try foldedOutbox(env)
        let parked = box.entries(.parked)
        #expect(parked.map(\.key) == ["1/2/c2"])
        #expect(parked.first?.lastError == "Bella Buyer has no e-mail address")
        #expect(parked.first?.attempts == 0)
        #expect(box.due(at: .distantFuture).map(\.key) == ["1/2/c1"])
        #expect(box.entries(.pending).map(\.key) == ["1/2/c1"])
    }

    @Test func onlyEntriesStillToBeTriedAreScannedByThePolls() async throws {
        let env = try await MailEnv()
        try await env.ticketFromCarl()
        try await env.staffComment("One.", notify: [.contact("c1"), .contact("c2")])
        try await env.staffComment("Two.", notify: [.contact("c1")])
        try await env.recordDelivery(.parked, comment: 2, contact: "c2", detail: "no address")
        try await env.recordDelivery(.queued, comment: 2, contact: "c1")
        try await env.recordDelivery(.failed, comment: 2, contact: "c1", detail: "try later")
        try await env.recordDelivery(.queued, comment: 3, contact: "c1")
        var box = try foldedOutbox(env)
        #expect(box.scheduledKeys == ["1/2/c1"], "failed waits; parked and sending do not")
        #expect(box.nextDue == box.all.first { $0.key == "1/2/c1" }?.nextAttemptAt)
        try await env.recordDelivery(.delivered, comment: 3, contact: "c1")
        try await env.recordDelivery(.queued, comment: 2, contact: "c1")
        try await env.recordDelivery(.parked, comment: 2, contact: "c1", detail: "gave up")
        box = try foldedOutbox(env)
        #expect(box.scheduledKeys.isEmpty)
        #expect(box.nextDue == nil && box.due(at: .distantFuture).isEmpty)
        #expect(box.entries(.parked).count == 2, "parked entries are still listed for staff")
        // Loaded from rows, the same.
        let loaded = Outbox()
        let runner = ProjectionRunner(store: env.store, projections: [Outbox()])
        try await runner.prepare()
        try env.store.read { try loaded.load(from: $0) }
        #expect(loaded.scheduledKeys.isEmpty && loaded.entries(.parked).count == 2)
        try await env.staffComment("Three.", notify: [.contact("c2")])
        #expect(try foldedOutbox(env).scheduledKeys == ["1/4/c2"])
    }

    @Test func deliveriesToOtherRecipientsOrUnknownCommentsChangeNothing() async throws {
        let env = try await MailEnv()
        try await env.ticketFromCarl()
        try await env.staffComment("Please restart it.")
        // A delivery to staff (not outgoing mail) and to the opening comment's client.
        _ = try await env.processor.execute(Command(actor: .system("mailer"), .recordDelivery(
            ticket: 1, comment: 2, recipient: .staff("s1"), status: .delivered, detail: nil)))
        try await env.recordDelivery(.delivered, comment: 1, contact: "c1")
        let e = try #require(try foldedOutbox(env).all.first)
        #expect(e.key == "1/2/c1" && e.status == .pending && e.attempts == 0)
    }

    @Test func flushedRowsLoadBackTheSameEntries() async throws {
        let env = try await MailEnv()
        env.clock.advance(by: 0.123456)  // fractional times survive too
        try await env.ticketFromCarl()
        try await env.staffComment("First answer.", notify: [.contact("c1"), .contact("c2")])
        env.clock.advance(by: 10.5)
        try await env.recordDelivery(.queued, comment: 2, contact: "c1")
        try await env.recordDelivery(.failed, comment: 2, contact: "c1", detail: "temporary failure")
        try await env.recordDelivery(.parked, comment: 2, contact: "c2", detail: "bounced")
        try await env.staffComment("Second answer.", notify: [.contact("c1")])

        let first = Outbox(retryBase: 30)
        let runner = ProjectionRunner(store: env.store, projections: [first])
        try await runner.prepare()
        #expect(runner.position("outbox") == env.store.committedHead)
        #expect(first.all.count == 3)
        #expect(first.all == (try foldedOutbox(env, retryBase: 30)).all)

        // Loaded from the rows alone.
        let loaded = Outbox(retryBase: 30)
        try env.store.read { try loaded.load(from: $0) }
        #expect(loaded.all == first.all)
        #expect(loaded.entries(.failed).first?.lastError == "temporary failure")
        #expect(loaded.entries(.parked).first?.lastError == "bounced")

        // More happens; a new runner loads the rows at its checkpoint and catches up, deleting the
        // delivered entry's row.
        try await env.recordDelivery(.queued, comment: 2, contact: "c1")
        try await env.recordDelivery(.delivered, comment: 2, contact: "c1")
        let second = Outbox(retryBase: 30)
        let runner2 = ProjectionRunner(store: env.store, projections: [second])
        try await runner2.prepare()
        #expect(second.all.map(\.key) == ["1/2/c2", "1/3/c1"])
        #expect(second.all == (try foldedOutbox(env, retryBase: 30)).all)
        let reloaded = Outbox(retryBase: 30)
        try env.store.read { try reloaded.load(from: $0) }
        #expect(reloaded.all == second.all)
    }
}
