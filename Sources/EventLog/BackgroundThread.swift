import Foundation

/// Threads for bulk work that should yield the processor to the work that feeds it.
///
/// A rebuild has three busy threads on a machine that may have two cores: the fold (its critical
/// path), the reading and decoding of the next batch, and the writing of the last batch's rows. At
/// equal priority the scheduler shares the cores evenly among them, and the fold waited for a core
/// about a fifth of the time; with the reading and the writing at a lower priority (`nice` +10)
/// the fold keeps a core and the other two share the rest (5M-event rebuild: ~455k → ~515k
/// events/s). Linux only; elsewhere the threads run at the usual priority.
public enum BackgroundThread {
    /// How much lower the priority is, as a `nice` increment.
    public static let nice: Int32 = 10

    /// Lowers the calling thread's priority for the rest of its life (an unprivileged process
    /// cannot raise it again): call it only on a thread made for background work.
    public static func lowerCurrentPriority() {
        #if os(Linux)
        // Linux keeps the nice value per thread; `who` 0 is the calling one.
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
        #endif
    }

    /// Runs `body` on a new thread of lower priority and returns its result.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                lowerCurrentPriority()
                c.resume(with: Result { try body() })
            }
            thread.name = "background"
            thread.stackSize = 4 << 20
            thread.start()
        }
    }
}
