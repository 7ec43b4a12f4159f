import EventLog
import Foundation
import SupportDesk
import Testing
@testable import DeskEngine

/// R7: two people accepting at the same moment — exactly one wins.
@Suite struct ConcurrencyTests {
    @Test(arguments: [2, 3, 8, 16])
    func concurrentAcceptsHaveOneWinner(staff: Int) async throws {
        let dir = try TempDir()
        let store = try lmdbStore(dir)
        defer { store.close() }
        let p = try CommandProcessor(store: store)
        try await Fixture.setUp(p, extraStaff: staff)
        _ = try await p.execute(Fixture.openFromC1())
        let results = try await withThrowingTaskGroup(of: (StaffId, Result<CommandOutcome, any Error>).self) { group in
            for i in 0..<staff {
                group.addTask {
                    let id = "agent\(i)"
                    do { return (id, .success(try await p.execute(Command(actor: .staff(id), .acceptTicket(ticket: 1))))) }
                    catch { return (id, .failure(error)) }
                }
            }
            var out: [(StaffId, Result<CommandOutcome, any Error>)] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(results.count == staff)
        let winners = results.filter { if case .success = $0.1 { true } else { false } }
        #expect(winners.count == 1)
        for (id, r) in results {
            if case .failure(let e) = r {
                #expect((e as? DomainError)?.code == .conflict, "\(id): \(e)")
            }
        }
        let accepted = try records(store, type: "TicketAccepted")
        #expect(accepted.count == 1)
        let winner = try #require(winners.first?.0)
        #expect(accepted.first?.metadata.actor == "staff:\(winner)")
        #expect(try await p.ticket(1)?.responsible == winner)
        #expect(try foldTicket(store, 1)?.responsible == winner)
    }

    /// Many commands on different tickets from many tasks: every one is answered, numbers are unique
    /// and gapless, and the log replays to the live state.
    @Test func concurrentOpensAndCommentsStayConsistent() async throws {
        let dir = try TempDir()
        let store = try lmdbStore(dir)
        defer { store.close() }
        let p = try CommandProcessor(store: store)
        try await Fixture.setUp(p)
        let numbers = try await withThrowingTaskGroup(of: TicketNumber.self) { group in
            for i in 0..<24 {
                group.addTask {
                    let o = try await p.execute(Fixture.openFromC1("Question \(i)"))
                    let n = try #require(o.ticket)
                    _ = try await p.execute(Command(actor: .staff("s\(1 + i % 3)"), .acceptTicket(ticket: n)))
                    _ = try await p.execute(Command(actor: .staff("s\(1 + i % 3)"), .comment(
                        ticket: n, text: "Answer \(i)", internal: false, notify: nil, attachments: [], channel: nil, externalId: nil)))
                    return n
                }
            }
            var out: [TicketNumber] = []
            for try await n in group { out.append(n) }
            return out
        }
        #expect(numbers.sorted() == Array(1...24))
        let rebuilt = try replay(store)
        let live = await p.snapshot()
        #expect(live.tickets == rebuilt.tickets)
        #expect(live.organisations == rebuilt.organisations)
        #expect(live.contacts == rebuilt.contacts)
        for n in 1...24 {
            #expect(rebuilt.tickets[n]?.comments.count == 2)
            #expect(rebuilt.tickets[n]?.status == .accepted)
        }
    }
}
