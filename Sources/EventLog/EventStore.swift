import Foundation

/// One entry of a stream's index.
public struct StreamIndexEntry: Sendable, Hashable {
    public var version: UInt64
    public var sequence: UInt64
    public var timestampMicros: Int64
}

/// Where a stream ends: its version and the sequence of its last event.
public struct StreamHead: Sendable, Hashable {
    public var version: UInt64
    public var lastSequence: UInt64
    public init(version: UInt64, lastSequence: UInt64) {
        self.version = version
        self.lastSequence = lastSequence
    }
}

/// Everything a caller may read inside one consistent snapshot. Valid only inside the `read` / `write`
/// closure that received it; the buffers handed to scan callbacks are valid only during the callback.
public protocol LogReader {
    /// The last committed sequence number visible in this snapshot (0 for an empty log).
    func head() throws -> UInt64
    /// The hash of the record at `head()` (the genesis hash for an empty log).
    func headHash() throws -> [UInt8]
    /// Visits raw records from `sequence` on, in order, until `body` returns false.
    func forEachRawRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws
    /// Runs `body` on the stored bytes of one record; nil when there is no such record.
    func withRawRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R?
    /// A stream's head (nil when the stream does not exist).
    func streamHead(_ stream: String) throws -> StreamHead?
    /// Visits every stream whose name is ≥ `start` and its head, in name (byte) order, until `body`
    /// returns false.
    func forEachStream(from start: String, _ body: (String, StreamHead) throws -> Bool) throws
    /// Number of streams.
    func streamCount() throws -> Int
    /// Number of event ids in the id index.
    func eventIdCount() throws -> Int
    /// The sequence of a stored event id.
    func sequence(ofEventId id: UUID) throws -> UInt64?
    /// A value of a named side database.
    func get(_ key: [UInt8], in database: String) throws -> [UInt8]?
    /// Visits a named side database's entries with key ≥ `start`, in key order, until `body` returns false.
    func scan(_ database: String, from start: [UInt8],
              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws
    /// A named checkpoint (e.g. the last sequence a projection has folded).
    func checkpoint(_ name: String) throws -> UInt64?
}

/// A write transaction: appends, side databases and checkpoints commit together or not at all.
public protocol LogWriter: LogReader {
    /// Appends events to one or more streams atomically, checking each stream's expected version.
    /// Validates everything before writing anything: when it throws, nothing of it was written.
    func append(_ appends: [StreamAppend]) throws -> AppendResult
    func put(_ key: [UInt8], _ value: [UInt8], in database: String) throws
    func delete(_ key: [UInt8], in database: String) throws
    /// Deletes every entry of a named side database (e.g. before a projection rebuild).
    func clear(_ database: String) throws
    func setCheckpoint(_ name: String, _ sequence: UInt64) throws
    /// `EventStore.releaseReadPages` from inside a write: a long one (a rebuild's batch of rows, each
    /// replacing an older row whose pages are read through the map) calls it every few thousand puts.
    func releaseReadPages()
}

extension LogWriter {
    public func releaseReadPages() {}
}

extension EventStore {
    public func writeInBackground<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T) async throws -> T {
        try await write(body)
    }
}

/// The append-only event log. Implementations: `LMDBEventStore` (the product) and `MemoryEventStore`
/// (its in-memory twin for tests); one behavioural test suite runs against both.
public protocol EventStore: AnyObject, Sendable {
    /// Runs `body` in a write transaction on the single writer, grouped with whatever else arrives
    /// while the previous group is committing; returns once the group is durable.
    ///
    /// `body` must not block or await, and may run more than once (after the map grew, or after
    /// another request of its group failed half-way): it must have no effects outside the transaction.
    /// If it throws, none of its writes are kept; the rest of its group commits.
    func write<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T) async throws -> T
    /// As `write`, for bulk work that should not take the processor from the work feeding it (a
    /// rebuild's rows, while the next batch is folded): run by a writer of lower scheduling
    /// priority than commands' writes, one transaction at a time with them. In order with the other
    /// background writes; in no particular order with `write`'s.
    func writeInBackground<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T) async throws -> T
    /// The same as `write`, without suspending: `body` is queued before this returns (so requests
    /// submitted one after another from one thread or actor commit in that order) and `completion`
    /// runs once its group is durable, or with the error.
    func submit<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T,
                             completion: @escaping @Sendable (Result<T, any Error>) -> Void)
    /// Runs `body` against one consistent snapshot. Never `await` inside.
    func read<T>(_ body: (any LogReader) throws -> T) throws -> T
    /// The last durable sequence (0 for an empty log).
    var committedHead: UInt64 { get }
    /// Returns once `committedHead > sequence`; throws `CancellationError` when cancelled and
    /// `EventLogError.closed` when the store closes.
    func waitForCommit(after sequence: UInt64) async throws
    /// Finishes in-flight commits and releases the store.
    func close()
    /// Tells the system this process no longer needs the pages it has read through a memory map
    /// (they stay in the page cache; the next read maps them again). A long scan — a rebuild —
    /// calls it between batches so that the log it has read does not stay in its resident memory.
    func releaseReadPages()
}

extension EventStore {
    public func releaseReadPages() {}
}

extension EventStore {
    /// Appends to one or more streams atomically (see `LogWriter.append`).
    @discardableResult
    public func append(_ appends: [StreamAppend]) async throws -> AppendResult {
        try await write { try $0.append(appends) }
    }

    /// Appends events to one stream.
    @discardableResult
    public func append(to stream: String, expected: ExpectedVersion = .any, _ events: [NewEvent]) async throws -> AppendResult {
        try await append([StreamAppend(stream: stream, expected: expected, events: events)])
    }

    /// Reads up to `limit` records from `sequence` on (the whole log forward, in batches).
    public func readAll(from sequence: UInt64 = 1, limit: Int = 1000) throws -> [RecordedEvent] {
        try read { r in try r.records(from: sequence, limit: limit) }
    }

    /// Reads one stream forward from `version` (inclusive) or backward from it.
    public func readStream(_ stream: String, from version: UInt64 = 1, backward: Bool = false,
                           limit: Int = .max) throws -> [RecordedEvent] {
        try read { r in try r.streamRecords(stream, from: version, backward: backward, limit: limit) }
    }

    /// One stream as it was at a point in history (for audits).
    public func readStream(_ stream: String, asOf point: HistoryPoint) throws -> [RecordedEvent] {
        try read { r in try r.streamRecords(stream, asOf: point) }
    }

    /// Committed records from `sequence` on: first the ones already stored, then new ones as they commit.
    public func subscribe(from sequence: UInt64 = 1, batchSize: Int = 512) -> EventSubscription {
        EventSubscription(store: self, from: sequence, batchSize: batchSize)
    }

    public func streamVersion(_ stream: String) throws -> UInt64 {
        try read { try $0.streamVersion(stream) }
    }
}

extension LogReader {
    /// Visits every stream and its head, in name order, until `body` returns false.
    public func forEachStream(_ body: (String, StreamHead) throws -> Bool) throws {
        try forEachStream(from: "", body)
    }

    /// Visits the streams whose names start with `prefix`, in name order.
    public func forEachStream(prefix: String, _ body: (String, StreamHead) throws -> Bool) throws {
        try forEachStream(from: prefix) { name, head in
            guard name.utf8.starts(with: prefix.utf8) else { return false }
            return try body(name, head)
        }
    }

    public func record(at sequence: UInt64) throws -> RecordedEvent? {
        try withRawRecord(at: sequence) { try RecordFormat.decode($0) }
    }

    /// Current version of a stream (0 when it does not exist).
    public func streamVersion(_ stream: String) throws -> UInt64 {
        try streamHead(stream)?.version ?? 0
    }

    /// Visits a stream's records from `version` forward (or from `version` down, backward) until
    /// `body` returns false, following each record's link to the stream's previous event.
    public func forEachStreamRecord(_ stream: String, from version: UInt64, backward: Bool,
                                    _ body: (StreamIndexEntry, UnsafeRawBufferPointer) throws -> Bool) throws {
        guard let head = try streamHead(stream) else { return }
        func step(_ seq: UInt64, _ visit: (StreamIndexEntry, UInt64, UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
            let go = try withRawRecord(at: seq) { raw -> Bool in
                guard let (entry, previous) = RecordFormat.peekIndex(raw), entry.sequence == seq else {
                    throw EventLogError(.corrupted, "record \(seq) of stream '\(stream)' cannot be read", stream: stream, sequence: seq)
                }
                return try visit(entry, previous, raw)
            }
            guard let go else {
                throw EventLogError(.corrupted, "stream '\(stream)' links to missing sequence \(seq)", stream: stream, sequence: seq)
            }
            return go
        }
        if backward {
            var seq = head.lastSequence
            while seq != 0 {
                let go = try step(seq) { entry, previous, raw in
                    seq = previous
                    return entry.version > version ? true : try body(entry, raw)
                }
                if !go { return }
            }
        } else {
            guard version <= head.version else { return }
            let first = max(version, 1)
            var seqs: [UInt64] = []
            seqs.reserveCapacity(Int(min(head.version - first + 1, 1 << 16)))
            var seq = head.lastSequence
            while seq != 0 {
                _ = try step(seq) { entry, previous, _ in
                    seqs.append(seq)
                    seq = entry.version <= first ? 0 : previous
                    return true
                }
            }
            for s in seqs.reversed() {
                if try !step(s, { entry, _, raw in try body(entry, raw) }) { return }
            }
        }
    }

    /// Visits a stream's index entries (see `forEachStreamRecord`).
    public func forEachStreamEntry(_ stream: String, from version: UInt64, backward: Bool,
                                   _ body: (StreamIndexEntry) throws -> Bool) throws {
        try forEachStreamRecord(stream, from: version, backward: backward) { e, _ in try body(e) }
    }

    public func records(from sequence: UInt64, limit: Int) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        guard limit > 0 else { return out }
        out.reserveCapacity(min(limit, 4096))
        try forEachRawRecord(from: max(sequence, 1)) { _, raw in
            out.append(try RecordFormat.decode(raw))
            return out.count < limit
        }
        return out
    }

    public func streamRecords(_ stream: String, from version: UInt64 = 1, backward: Bool = false,
                              limit: Int = .max) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        guard limit > 0 else { return out }
        try forEachStreamRecord(stream, from: version, backward: backward) { _, raw in
            out.append(try RecordFormat.decode(raw))
            return out.count < limit
        }
        return out
    }

    public func streamRecords(_ stream: String, asOf point: HistoryPoint) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try forEachStreamRecord(stream, from: 1, backward: false) { entry, raw in
            switch point {
            case .sequence(let s):
                if entry.sequence > s { return false }
            case .time(let t):
                if entry.timestampMicros > Timestamp.micros(from: t) { return true }
            }
            out.append(try RecordFormat.decode(raw))
            return true
        }
        return out
    }
}
