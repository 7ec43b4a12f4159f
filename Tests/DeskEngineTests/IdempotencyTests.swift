import EventLog
import Foundation
import SupportDesk
import Testing
@testable import DeskEngine

/// A command with an id runs once; retries get the first outcome and write nothing.
@Suite struct IdempotencyTests {
    @Test func retryReturnsTheFirstOutcomeAndWritesNothing() async throws {
        let dir = try TempDir()
        let first: CommandOutcome
        let head: UInt64
        do {
            let store = try lmdbStore(dir)
            defer { store.close() }
            let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
            try await Fixture.setUp(p)
            first = try await p.execute(Fixture.openFromC1(id: "mail-<abc@o1.example>"))
            #expect(first.ticket == 1)
            #expect(!first.sequences.isEmpty)
            #expect(first.versions[Streams.ticket(1)] == 1)
            head = store.committedHead
            #expect(first.sequences.last == head)

            let again = try await p.execute(Fixture.openFromC1(id: "mail-<abc@o1.example>"))
            #expect(again == first)
            #expect(store.committedHead == head)
            #expect(await p.lastTicketNumber == 1)
            #expect(try records(store, type: "TicketOpened").count == 1)

            // A different id is a different command.
            let other = try await p.execute(Fixture.openFromC1(id: "mail-<def@o1.example>"))
            #expect(other.ticket == 2)
            store.close()
        }
        // After a restart the outcome is still known.
        let store = try lmdbStore(dir)
        defer { store.close() }
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        let headAfterOther = store.committedHead
        #expect(headAfterOther > head)
        let afterRestart = try await p.execute(Fixture.openFromC1(id: "mail-<abc@o1.example>"))
        #expect(afterRestart == first)
        #expect(store.committedHead == headAfterOther)
        #expect(await p.lastTicketNumber == 2)
        #expect(try records(store, type: "TicketOpened").count == 2)
    }

    @Test func anIdReusedForADifferentCommandIsRefused() async throws {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        _ = try await p.execute(Fixture.openFromC1(id: "key-1"))
        let head = store.committedHead
        var other = Fixture.openFromC1(id: "key-1")
        other.body = .markSpam(ticket: 1)
        other.actor = Fixture.admin
        let error = await #expect(throws: DomainError.self) { try await p.execute(other) }
        #expect(error?.code == .conflict && error?.message.contains("different command") == true)
        #expect(store.committedHead == head)
        // The same command again is still answered with its first outcome.
        #expect(try await p.execute(Fixture.openFromC1(id: "key-1")).ticket == 1)
    }

    @Test func retryOfAStatusChangeIsNotRefusedAsAConflict() async throws {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        _ = try await p.execute(Fixture.openFromC1())
        let accept = Command(id: "accept-1", actor: .staff("s1"), .acceptTicket(ticket: 1))
        let first = try await p.execute(accept)
        let head = store.committedHead
        // Without the id this would be "you already hold ticket #1".
        #expect(try await p.execute(accept) == first)
        #expect(store.committedHead == head)
        let e = await domainError { _ = try await p.execute(Command(actor: .staff("s1"), .acceptTicket(ticket: 1))) }
        #expect(e?.code == .conflict)
    }

    @Test(arguments: [2, 8])
    func concurrentExecutesOfOneIdWriteOnce(copies: Int) async throws {
        let dir = try TempDir()
        let store = try lmdbStore(dir)
        defer { store.close() }
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        let head = store.committedHead
        let command = Fixture.openFromC1(id: "web-form-42")
        let outcomes = try await withThrowingTaskGroup(of: CommandOutcome.self) { group in
            for _ in 0..<copies { group.addTask { try await p.execute(command) } }
            var out: [CommandOutcome] = []
            for try await o in group { out.append(o) }
            return out
        }
        #expect(outcomes.count == copies)
        #expect(Set(outcomes).count == 1, "every copy gets the same outcome")
        #expect(outcomes.first?.ticket == 1)
        #expect(try records(store, type: "TicketOpened").count == 1)
        #expect(store.committedHead == head + UInt64(outcomes[0].sequences.count))
        #expect(await p.lastTicketNumber == 1)
    }

    @Test func oneIdTwiceInABatchWritesOnce() async throws {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        let results = await p.execute(batch: [Fixture.openFromC1(id: "x"), Fixture.openFromC1("Other"), Fixture.openFromC1(id: "x")])
        let outcomes = try results.map { try $0.get() }
        #expect(outcomes[0] == outcomes[2])
        #expect(outcomes.map(\.ticket) == [1, 2, 1])
        #expect(try records(store, type: "TicketOpened").count == 2)
    }

    @Test func invalidIdsAreRefused() async throws {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store, clock: ManualClock(Fixture.start))
        try await Fixture.setUp(p)
        let head = store.committedHead
        for id in ["", String(repeating: "x", count: 301)] {
            let e = await domainError { _ = try await p.execute(Fixture.openFromC1(id: id)) }
            #expect(e?.code == .invalid)
        }
        #expect(store.committedHead == head)
        // 300 bytes is still fine.
        let ok = try await p.execute(Fixture.openFromC1(id: String(repeating: "й", count: 150)))
        #expect(ok.ticket == 1)
    }
}
