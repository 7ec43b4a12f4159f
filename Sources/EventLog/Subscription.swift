import Foundation

/// Committed records from a position on: catch-up from the store, then live, woken by each commit
/// (no sleep-polling). Ends (returns nil) when the store closes; throws `CancellationError` when the
/// consuming task is cancelled.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent
    let store: any EventStore
    let from: UInt64
    let batchSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, next: Swift.max(from, 1), batchSize: Swift.max(batchSize, 1))
    }

    public struct Iterator: AsyncIteratorProtocol {
        let store: any EventStore
        var next: UInt64
        let batchSize: Int
        var buffer: [RecordedEvent] = []
        var index = 0

        public mutating func next() async throws -> RecordedEvent? {
            while true {
                if index < buffer.count {
                    defer { index += 1 }
                    next = buffer[index].sequence + 1
                    return buffer[index]
                }
                try Task.checkCancellation()
                let from = next, limit = batchSize
                let batch: [RecordedEvent]
                do {
                    batch = try store.read { try $0.records(from: from, limit: limit) }
                } catch let e as EventLogError where e.code == .closed {
                    return nil
                }
                if !batch.isEmpty {
                    buffer = batch
                    index = 0
                    continue
                }
                do {
                    try await store.waitForCommit(after: from - 1)
                } catch let e as EventLogError where e.code == .closed {
                    return nil
                }
            }
        }
    }
}
