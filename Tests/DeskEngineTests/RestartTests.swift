import EventLog
import Foundation
import SupportDesk
import Testing
@testable import DeskEngine

/// A processor started on an existing log sees what the live processor saw.
@Suite struct RestartTests {
    @Test func restartEqualsLive() async throws {
        let dir = try TempDir()
        let live: DeskState
        let liveEscalations: [TicketNumber: Date]
        var liveTickets: [TicketNumber: TicketState] = [:]
        let headBeforeClose: UInt64
        do {
            let store = try lmdbStore(dir)
            let p = try CommandProcessor(store: store)
            let summary = try await HistoryGenerator(.init(tickets: 200, seed: 7)).run(on: p)
            #expect(summary.refused == 0, "\(summary.firstRefusals)")
            #expect(summary.ticketsOpened == 200)
            #expect(summary.escalations > 0, "the history should exercise the escalation rule")
            live = await p.snapshot()
            liveEscalations = await p.escalations
            let last = await p.lastTicketNumber
            #expect(last >= 200)
            for n in 1...last {
                let t = try await p.ticket(n)
                #expect(t != nil, "live ticket #\(n)")
                liveTickets[n] = t
            }
            headBeforeClose = store.committedHead
            store.close()
        }

        let store = try lmdbStore(dir)
        defer { store.close() }
        let p = try CommandProcessor(store: store)
        #expect(store.committedHead == headBeforeClose, "loading must write nothing")

        #expect(await p.account == live.account)
        #expect(await p.organisations == live.organisations)
        #expect(await p.contacts == live.contacts)
        #expect(await p.lastTicketNumber == live.lastTicketNumber)
        #expect(await p.escalations == liveEscalations)
        let reloaded = await p.snapshot()
        #expect(resolvedAddresses(reloaded).emails == resolvedAddresses(live).emails)
        #expect(resolvedAddresses(reloaded).phones == resolvedAddresses(live).phones)
        #expect(reloaded.tickets.isEmpty, "tickets load lazily")

        var compared = 0
        for n in 1...live.lastTicketNumber {
            let folded = try foldTicket(store, n)
            let loaded = try await p.ticket(n)
            #expect(loaded != nil, "ticket #\(n) exists")
            #expect(loaded == folded, "ticket #\(n): processor vs. its stream folded")
            #expect(loaded == liveTickets[n], "ticket #\(n): after restart vs. live")
            #expect(live.tickets[n] == liveTickets[n], "ticket #\(n): live snapshot vs. live query")
            compared += 1
        }
        #expect(compared == liveTickets.count)
        // The history covers the interesting kinds of ticket.
        let all = Array(liveTickets.values)
        #expect(all.contains { $0.escalated })
        #expect(all.contains { $0.spam })
        #expect(all.contains { $0.mergedInto != nil })
        #expect(all.contains { $0.origin != nil })
        #expect(all.contains { $0.status == .closed && !$0.evaluations.isEmpty })
        #expect(all.contains { $0.status != .closed })
        #expect(store.committedHead == headBeforeClose, "reading tickets must write nothing")
    }

    /// Merging contacts changes `contactByEmail` across two streams; loading folds streams by name,
    /// not in log order, so lookups (which follow merges) must still answer as before the restart.
    @Test func contactMergeSurvivesRestart() async throws {
        let store = MemoryEventStore()
        let clock = ManualClock(Fixture.start)
        let p = try CommandProcessor(store: store, clock: clock)
        try await Fixture.setUp(p)
        // "zz-dup" sorts after "c4", so the survivor's stream is folded first on load.
        _ = try await p.execute(Command(actor: .staff("s1"), .createContact(
            id: "zz-dup", name: "Duplicate", emails: ["dup@o1.example"], phones: ["+1 555 0100"], organisation: "o1", language: nil)))
        _ = try await p.execute(Command(actor: .staff("s1"), .mergeContacts(duplicate: "zz-dup", into: "c2")))
        let live = await p.snapshot()
        #expect(await p.contact(byEmail: "DUP@o1.example")?.id == "c2")

        let again = try CommandProcessor(store: store, clock: clock)
        #expect(await again.contacts == live.contacts)
        #expect(await again.contact(byEmail: "dup@o1.example")?.id == "c2")
        #expect(await again.contact(byEmail: "c2@o1.example")?.id == "c2")
        let reloaded = await again.snapshot()
        #expect(resolvedAddresses(reloaded).emails == resolvedAddresses(live).emails)
        #expect(resolvedAddresses(reloaded).phones == resolvedAddresses(live).phones)
        // The address stays taken after the restart: attaching it elsewhere is a conflict.
        let e = await domainError {
            _ = try await again.execute(Command(actor: .staff("s1"), .attachEmail(contact: "c3", email: "dup@o1.example")))
        }
        #expect(e?.code == .conflict)
    }
}
