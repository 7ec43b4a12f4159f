import Foundation
import Synchronization
@testable import DeskEngine

/// A task executor on its own thread that runs jobs only while its gate is open: a test can stop a
/// task (and its child tasks) at a chosen suspension point and let it go on later. (Default actors
/// called from such a task run on this executor too: close the gate only while no actor job of the
/// task is pending, or the actor stays taken.)
final class GatedExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var open = true
    private var stopped = false
    private var closeAtPending: Int?

    init() {
        let thread = Thread { [self] in loop() }
        thread.name = "gated-executor"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        condition.lock()
        jobs.append(j)
        condition.broadcast()
        condition.unlock()
    }

    /// Jobs waiting to run.
    var pending: Int { condition.lock(); defer { condition.unlock() }; return jobs.count }
    var isOpen: Bool { condition.lock(); defer { condition.unlock() }; return open }

    func setOpen(_ value: Bool) {
        condition.lock()
        open = value
        condition.broadcast()
        condition.unlock()
    }

    /// Closes the gate at the end of the first job (this one or a later one) after which at least
    /// `count` jobs wait: e.g. 2 when a task has just started two child tasks and suspended.
    func close(whenPending count: Int) {
        condition.lock()
        closeAtPending = count
        condition.unlock()
    }

    /// Ends the thread once no job is left.
    func stop() {
        condition.lock()
        stopped = true
        open = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while !(open && !jobs.isEmpty) && !(stopped && jobs.isEmpty) { condition.wait() }
            if jobs.isEmpty { condition.unlock(); return }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
            condition.lock()
            if let n = closeAtPending, jobs.count >= n, !stopped {
                open = false
                closeAtPending = nil
            }
            condition.unlock()
        }
    }
}

/// The timer's clock: the shared `ManualClock`, plus a hook run (once) on the next `now()` after `arm`.
final class HookedClock: DeskClock {
    let base: ManualClock
    private let hook = Mutex<(@Sendable () -> Void)?>(nil)
    init(_ base: ManualClock) { self.base = base }
    func arm(_ h: @escaping @Sendable () -> Void) { hook.withLock { $0 = h } }
    func now() -> Date {
        let h = hook.withLock { h -> (@Sendable () -> Void)? in
            defer { h = nil }
            return h
        }
        h?()
        return base.now()
    }
    func sleep(until deadline: Date) async throws { try await base.sleep(until: deadline) }
}
