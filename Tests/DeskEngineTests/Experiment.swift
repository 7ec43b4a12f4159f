import EventLog
import Foundation
import SupportDesk
import Synchronization
import Testing
@testable import DeskEngine

/// A clock for the timer that runs a hook on its first `now()` after being armed.
final class HookedClock: DeskClock {
    let base: ManualClock
    private let hook = Mutex<(@Sendable () -> Void)?>(nil)
    init(_ base: ManualClock) { self.base = base }
    func arm(_ h: @escaping @Sendable () -> Void) { hook.withLock { $0 = h } }
    func now() -> Date {
        if let h = hook.withLock({ h -> (@Sendable () -> Void)? in defer { h = nil }; return h }) { h() }
        return base.now()
    }
    func sleep(until deadline: Date) async throws { try await base.sleep(until: deadline) }
}

@Test func lostWakeupExperiment() async throws {
    var lost = 0
    let hour = 3600.0
    for _ in 0..<20 {
        let store = MemoryEventStore()
        let clock = ManualClock(Fixture.start)
        let timerClock = HookedClock(clock)
        let p = try CommandProcessor(store: store, clock: clock)
        try await Fixture.setUp(p)
        // X: office tier, due 11:00 (2 business hours after 09:00).
        _ = try await p.execute(Command(actor: .system("mail"), .openTicket(OpenTicket(channel: .email, subject: "X", body: "", contact: .email("c3@o2.example", name: nil)))))
        let timer = Task(priority: .background) { await EscalationTimer(processor: p, clock: timerClock).run() }
        _ = await eventually { clock.sleepers == 1 }
        timerClock.arm {
            // Occupy the other pool thread, then queue the opening of Y behind it at a high priority.
            Task(priority: .high) { let end = Date().addingTimeInterval(0.02); while Date() < end {} }
            Task(priority: .high) { _ = try? await p.execute(Fixture.openFromC1("Y")) }
        }
        // Z: wakes the timer (later due), so it runs fireDue → now() → hook.
        _ = try await p.execute(Command(actor: .system("mail"), .openTicket(OpenTicket(channel: .email, subject: "Z", body: "", contact: .email("c3@o2.example", name: nil)))))
        _ = await eventually { await p.lastTicketNumber == 3 }
        try await Task.sleep(for: .milliseconds(20))
        clock.set(Fixture.start.addingTimeInterval(2 * hour + 1))
        let fired = await eventually(timeout: 0.5) { (try? records(store, type: TicketEscalated.type).count) == 1 }
        if !fired { lost += 1 }
        timer.cancel()
        await timer.value
    }
    print("LOST total \(lost) of 20")
}
