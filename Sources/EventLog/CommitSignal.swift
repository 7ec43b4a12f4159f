import Foundation
import Synchronization

/// Wakes waiters when the committed head moves past the sequence they wait for. The writer publishes
/// after every durable commit; nobody sleeps or polls.
final class CommitSignal: Sendable {
    private struct Waiter {
        let after: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var head: UInt64
        var closed = false
        var nextToken: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
    }
    private let state: Mutex<State>

    init(head: UInt64) { state = Mutex(State(head: head)) }

    var head: UInt64 { state.withLock { $0.head } }

    /// Publishes a new head and resumes every waiter it satisfies.
    func publish(_ head: UInt64) {
        let ready: [CheckedContinuation<Void, any Error>] = state.withLock { s in
            guard head > s.head else { return [] }
            s.head = head
            var out: [CheckedContinuation<Void, any Error>] = []
            for (token, w) in s.waiters where w.after < head {
                out.append(w.continuation)
                s.waiters[token] = nil
            }
            return out
        }
        for c in ready { c.resume() }
    }

    func close() {
        let all: [CheckedContinuation<Void, any Error>] = state.withLock { s in
            s.closed = true
            defer { s.waiters = [:] }
            return s.waiters.values.map(\.continuation)
        }
        for c in all { c.resume(throwing: EventLogError(.closed, "the event store was closed")) }
    }

    func wait(after sequence: UInt64) async throws {
        let token: UInt64 = state.withLock { s in
            s.nextToken += 1
            return s.nextToken
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let immediate: Result<Void, any Error>? = state.withLock { s in
                    if s.closed { return .failure(EventLogError(.closed, "the event store was closed")) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if s.head > sequence { return .success(()) }
                    s.waiters[token] = Waiter(after: sequence, continuation: c)
                    return nil
                }
                if let immediate { c.resume(with: immediate) }
            }
        } onCancel: {
            let c = state.withLock { s in s.waiters.removeValue(forKey: token)?.continuation }
            c?.resume(throwing: CancellationError())
        }
    }
}
