import EventLog
import Foundation
@testable import SupportDesk
import Testing
@testable import DeskEngine

@Suite struct BatchTests {
    @Test(arguments: [false, true])
    func batchAssignsTicketNumbersInOrder(lmdb: Bool) async throws {
        let dir = try TempDir()
        let store: any EventStore = lmdb ? try lmdbStore(dir) : MemoryEventStore()
        defer { store.close() }
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        _ = try await p.execute(Fixture.openFromC1("Before the batch"))
        let subjects = (0..<12).map { "Batch question \($0)" }
        var batch = subjects.enumerated().map { i, s in Fixture.openFromC1(s, id: i % 4 == 3 ? "batch-\(i)" : nil) }
        // A refused command in the middle takes no number.
        batch.insert(Command(actor: .system("mail"), .openTicket(OpenTicket(channel: .email, subject: " ", body: "",
                                                                               contact: .email("c1@o1.example", name: nil)))), at: 5)
        let results = await p.execute(batch: batch)
        #expect(results.count == batch.count)
        guard case .failure(let e) = results[5] else { Issue.record("the empty subject must be refused"); return }
        #expect((e as? DomainError)?.code == .invalid)
        var results2 = results
        results2.remove(at: 5)
        let numbers = try results2.map { try $0.get().ticket }
        #expect(numbers == Array(2...13))
        for (i, s) in subjects.enumerated() {
            #expect(try await p.ticket(2 + i)?.subject == s)
            #expect(try foldTicket(store, 2 + i)?.subject == s)
        }
        // The log holds the openings in the same order.
        let opened = try records(store, type: TicketOpened.type).map(\.stream)
        #expect(opened == (1...13).map(Streams.ticket))
    }

    /// Commands of one batch are decided against each other's effects.
    @Test func laterCommandsOfABatchSeeEarlierOnes() async throws {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        let results = await p.execute(batch: [
            Fixture.openFromC1(),
            Command(actor: .staff("s1"), .acceptTicket(ticket: 1)),
            Command(actor: .staff("s2"), .acceptTicket(ticket: 1)),
        ])
        #expect((try? results[0].get())?.ticket == 1)
        #expect((try? results[1].get()) != nil)
        guard case .failure(let e) = results[2] else { Issue.record("second accept must be refused"); return }
        #expect((e as? DomainError)?.code == .conflict)
        #expect(try await p.ticket(1)?.responsible == "s1")
    }
}

@Suite struct ErrorTests {
    @Test func commandsWithoutAnAccountAreRefused() async throws {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store)
        for c in [Fixture.openFromC1(), Command(actor: .staff("admin"), .addStaff(id: "x", name: "X", email: "x@x.example", role: .staff, isDeveloper: false)),
                  Command(actor: .staff("s1"), .acceptTicket(ticket: 1)), Command(actor: .system("escalation"), .escalate(ticket: 1))] {
            let e = await domainError { _ = try await p.execute(c) }
            #expect(e?.code == .conflict, "\(c.body.name)")
        }
        #expect(store.committedHead == 0)
        #expect(try allRecords(store).isEmpty)
        // Only the system creates the account, once.
        let staff = await domainError {
            _ = try await p.execute(Command(actor: .staff("admin"), .createAccount(
                name: "D", timeZone: "UTC", defaultLanguage: "en", admin: "admin", adminName: "A", adminEmail: "a@d.example")))
        }
        #expect(staff?.code == .forbidden)
        #expect(store.committedHead == 0)
        try await Fixture.setUp(p)
        let twice = await domainError { _ = try await p.execute(Fixture.setupCommands()[0]) }
        #expect(twice?.code == .conflict)
    }

    @Test func refusedCommandsWriteNothing() async throws {
        let dir = try TempDir()
        let store = try lmdbStore(dir)
        defer { store.close() }
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        _ = try await p.execute(Fixture.openFromC1())
        let head = store.committedHead
        let before = await p.snapshot()
        let refused: [(Command, DomainError.Code)] = [
            (Command(actor: .staff("aud"), .acceptTicket(ticket: 1)), .forbidden),
            (Command(actor: .staff("ghost"), .acceptTicket(ticket: 1)), .forbidden),
            (Command(actor: .staff("s1"), .acceptTicket(ticket: 99)), .notFound),
            (Command(actor: .contact("c3"), .comment(ticket: 1, text: "Not my ticket", internal: false, notify: nil,
                                                     attachments: [], channel: nil, externalId: nil)), .notFound),
            (Command(actor: .staff("s1"), .close(ticket: 1, evaluation: nil, reason: nil)), .forbidden),
            (Command(actor: .staff("s1"), .mergeTicket(duplicate: 1, into: 1)), .invalid),
            (Command(actor: .staff("s1"), .splitComment(ticket: 1, comment: 1, subject: nil)), .notFound),
            (Command(actor: .staff("s1"), .createContact(id: "c9", name: "Taken", emails: ["c2@o1.example"], phones: [],
                                                         organisation: nil, language: nil)), .conflict),
            (Command(actor: .staff("s1"), .mergeContacts(duplicate: "c1", into: "c1")), .invalid),
            (Command(actor: .contact("c1"), .rateAnswer(ticket: 1, comment: nil, score: 5, text: nil)), .conflict),
            (Command(actor: .staff("s1"), .changeStatus(ticket: 1, to: .resolved, reason: nil, until: nil)), .illegalTransition),
        ]
        for (c, code) in refused {
            let e = await domainError { _ = try await p.execute(c) }
            #expect(e?.code == code, "\(c.body.name) by \(c.actor): \(e.map(String.init(describing:)) ?? "-")")
            #expect(store.committedHead == head, "\(c.body.name) wrote something")
        }
        #expect(await p.snapshot() == before, "refusals change nothing in memory either")
    }

    /// When the log refuses an append (here: someone else wrote to the ticket's stream), the command
    /// fails with the log's error, nothing of it is written, and the processor reloads the ticket.
    @Test func aFailedAppendWritesNothingAndReloads() async throws {
        let store = MemoryEventStore()
        let clock = ManualClock(Fixture.start)
        let p = try CommandProcessor(store: store, clock: clock)
        try await Fixture.setUp(p)
        _ = try await p.execute(Fixture.openFromC1())
        _ = try await p.ticket(1)
        // A foreign writer appends comment 2 to ticket-1 behind the processor's back.
        let foreign = DeskEvent.commentAdded(CommentAdded(ticket: 1, comment: 2, author: .staff("s2"), text: "Written elsewhere",
                                                          isInternal: true, notify: [.staff("s2")], attachments: [], channel: nil, externalId: nil))
        let enc = try EventCodec.encode(foreign)
        try await store.append(to: Streams.ticket(1), [NewEvent(type: enc.type, schemaVersion: enc.schemaVersion,
                                                                 timestamp: clock.now(), payload: enc.payload)])
        let head = store.committedHead

        do {
            _ = try await p.execute(Command(actor: .staff("s1"), .acceptTicket(ticket: 1)))
            Issue.record("the append was decided on a stale version and must fail")
        } catch is DomainError {
            Issue.record("a version conflict in the log is not a domain refusal")
        } catch {
            #expect(error is EventLogError)
        }
        #expect(store.committedHead == head)
        #expect(try records(store, type: TicketAccepted.type).isEmpty)
        // The ticket was reloaded: it has the foreign comment and no responsible.
        let t = try #require(try await p.ticket(1))
        #expect(t == (try foldTicket(store, 1)))
        #expect(t.comments.count == 2)
        #expect(t.responsible == nil)
        // And the next command works on the reloaded state.
        let o = try await p.execute(Command(actor: .staff("s1"), .comment(ticket: 1, text: "Hi", internal: false, notify: nil,
                                                                          attachments: [], channel: nil, externalId: nil)))
        #expect(o.comment == 3)
        #expect(try await p.ticket(1) == (try foldTicket(store, 1)))
    }
}

@Suite struct LogReadabilityTests {
    /// Whatever the processor accepts, it must be able to read back: a command is refused or its
    /// events replay. `Party.system("")` encodes as "system:", which `Party(from:)` rejects.
    @Test func anAcceptedCommandAlwaysReplays() async throws {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        let head = store.committedHead
        let open = Command(actor: .system(""), .openTicket(OpenTicket(
            channel: .api, subject: "From a nameless integration", body: "", contact: .email("c1@o1.example", name: nil))))
        let outcome: CommandOutcome?
        do { outcome = try await p.execute(open) } catch is DomainError { outcome = nil }
        if outcome == nil { #expect(store.committedHead == head) }
        let rebuilt = try replay(store)
        let restarted = try CommandProcessor(store: store)
        if let n = outcome?.ticket {
            #expect(try await restarted.ticket(n) == rebuilt.tickets[n])
            #expect(try await p.ticket(n) == rebuilt.tickets[n])
        }
    }
}
