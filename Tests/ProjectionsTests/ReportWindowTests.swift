import BusinessTime
import DeskEngine
import EventLog
import Foundation
@testable import Projections
import Synchronization
import SupportDesk
import Testing

/// A clock that can be set anywhere, backwards too (a wall clock stepped back by NTP).
final class SettableClock: DeskClock {
    let instant: Mutex<Date>
    init(_ d: Date) { instant = Mutex(d) }
    func now() -> Date { instant.withLock { $0 } }
    func set(_ d: Date) { instant.withLock { $0 = d } }
    func sleep(until deadline: Date) async throws { try await Task.sleep(for: .milliseconds(1)) }
}

@Suite("Reports over a period look only at that period")
struct ReportWindowTests {
    @Test("days from the epoch agree with Foundation's calendar")
    func days() {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        for (y, m, d) in [(1970, 1, 1), (1969, 12, 31), (2000, 2, 29), (2024, 3, 1), (2026, 11, 23), (1600, 3, 1), (2400, 12, 31)] {
            let foundation = utc.date(from: DateComponents(year: y, month: m, day: d))!.timeIntervalSince1970 / 86_400
            #expect(LocalDate(year: y, month: m, day: d).dayNumber == Int(foundation), "\(y)-\(m)-\(d)")
        }
    }

    @Test("payroll, SLA, load and reaction times over periods equal a scan of everything")
    func sameAsFullScan() async throws {
        let store = MemoryEventStore()
        _ = try await generated(store, tickets: 400, seed: 21)
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        #expect(view.read { $0.openedInOrder && $0.evaluationsInOrder })
        let days = view.read { v in v.openedOrder.compactMap { v.tickets[$0] }.map { localDate($0.openedAt, timeZone: v.state.account.timeZone) } }
        let first = try #require(days.first), last = try #require(days.last)
        let middle = days[days.count / 2]
        let periods = [(first, last), (first, first), (middle, middle), (middle, last), (LocalDate(year: 1990, month: 1, day: 1), LocalDate(year: 1990, month: 2, day: 1))]
        func figures() throws -> [(PayrollReport, SLAReport, LoadReport, [Double])] {
            try periods.map { from, to in
                (try view.payroll(from: from, to: to, formula: .inForce), view.sla(from: from, to: to), view.load(from: from, to: to),
                 view.reactionHours(from: from, to: to))
            }
        }
        let windowed = try figures()
        // The same view with the windows switched off scans everything.
        view.read { v in v.openedInOrder = false; v.evaluationsInOrder = false }
        let scanned = try figures()
        for (w, s) in zip(windowed, scanned) {
            #expect(w.0 == s.0)
            #expect(w.1 == s.1)
            #expect(w.2 == s.2)
            #expect(w.3 == s.3)
        }
        #expect(view.load(from: middle, to: middle).opened > 0 && view.load(from: first, to: last).opened > view.load(from: middle, to: middle).opened)
    }

    @Test("a clock stepped back switches the window off, so the early ticket is still counted on its day")
    func clockSteppedBack() async throws {
        let store = MemoryEventStore()
        let start = Date(timeIntervalSince1970: 1_772_431_200)
        let clock = SettableClock(start)
        let processor = try CommandProcessor(store: store, clock: clock)
        _ = try await processor.execute(Command(actor: .system("setup"), .createAccount(
            name: "Desk", timeZone: "UTC", defaultLanguage: "en", admin: "admin", adminName: "Admin", adminEmail: "admin@example.com")))
        func open(_ subject: String) async throws {
            _ = try await processor.execute(Command(actor: .system("mail"), .openTicket(OpenTicket(
                channel: .email, subject: subject, body: "…", contact: .email("c@example.com", name: nil)))))
        }
        for i in 0..<5 {
            clock.set(start.addingTimeInterval(Double(i) * 86_400 * 10))
            try await open("on day \(i * 10)")
        }
        clock.set(start.addingTimeInterval(-86_400 * 30))  // stepped back a month
        try await open("early")
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        #expect(view.read { !$0.openedInOrder })
        let early = localDate(start.addingTimeInterval(-86_400 * 30), timeZone: "UTC")
        #expect(view.load(from: early, to: early).opened == 1)
        #expect(view.load(from: early, to: localDate(start.addingTimeInterval(86_400 * 45), timeZone: "UTC")).opened == 6)
        // Loading the persisted rows works the order out again.
        let loaded = DeskView()
        try await ProjectionRunner(store: store, projections: [loaded]).prepare()
        #expect(loaded.read { !$0.openedInOrder } && loaded.load(from: early, to: early).opened == 1)
    }
}
