import Foundation
import Synchronization

/// Where the desk gets its time. Injected everywhere, so that tests and the generator control it.
public protocol DeskClock: Sendable {
    func now() -> Date
    /// Returns at `deadline` (by this clock) or throws `CancellationError`.
    func sleep(until deadline: Date) async throws
}

/// Wall-clock time.
public struct SystemClock: DeskClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(until deadline: Date) async throws {
        let seconds = deadline.timeIntervalSinceNow
        if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64(min(seconds, 86_400) * 1000) + 1)) }
    }
}

/// A clock that moves only when told to; sleepers wake when it passes their deadline.
public final class ManualClock: DeskClock {
    private struct Sleeper {
        var deadline: Date
        var continuation: CheckedContinuation<Void, any Error>
    }
    private let state: Mutex<(now: Date, sleepers: [UInt64: Sleeper], next: UInt64)>

    public init(_ start: Date) {
        state = Mutex((start, [:], 0))
    }

    public func now() -> Date { state.withLock { $0.now } }

    /// Moves the clock to `date` (never backwards) and wakes everyone whose deadline has come.
    public func set(_ date: Date) {
        let due: [Sleeper] = state.withLock { s in
            s.now = max(s.now, date)
            let ready = s.sleepers.filter { $0.value.deadline <= s.now }
            for k in ready.keys { s.sleepers[k] = nil }
            return Array(ready.values)
        }
        for d in due { d.continuation.resume() }
    }

    public func advance(by seconds: TimeInterval) { set(now().addingTimeInterval(seconds)) }

    /// How many tasks are sleeping on this clock (tests wait for a service to go to sleep).
    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Date) async throws {
        let id = state.withLock { s -> UInt64 in s.next += 1; return s.next }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { s in
                    if s.now >= deadline || Task.isCancelled { return true }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let s = state.withLock { $0.sleepers.removeValue(forKey: id) }
            s?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
