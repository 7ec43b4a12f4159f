import Foundation
import Synchronization

/// The in-memory twin of `LMDBEventStore`: same record format, same hash chain, same rules (the
/// append logic is shared), for fast tests. Writes are serialised by a mutex; each `write` is its own
/// "group", and a throwing `write` leaves nothing behind (its changes are made on a copy).
public final class MemoryEventStore: EventStore, @unchecked Sendable {
    struct Tables {
        var records: [[UInt8]] = []  // index = sequence - 1
        var heads: [String: StreamHead] = [:]
        var ids: [UUID: UInt64] = [:]
        var side: [String: [[UInt8]: [UInt8]]] = [:]
        var checkpoints: [String: UInt64] = [:]
    }

    private let tables = Mutex(Tables())
    private let signal = CommitSignal(head: 0)
    private let clock: @Sendable () -> Int64

    public init(clock: @escaping @Sendable () -> Int64 = Timestamp.nowMicros) {
        self.clock = clock
    }

    public var committedHead: UInt64 { signal.head }

    public func waitForCommit(after sequence: UInt64) async throws {
        try await signal.wait(after: sequence)
    }

    public func read<T>(_ body: (any LogReader) throws -> T) throws -> T {
        let snapshot = tables.withLock { $0 }
        return try body(MemoryTxn(tables: snapshot, clock: clock))
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T) async throws -> T {
        try run(body)
    }

    public func submit<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T,
                                    completion: @escaping @Sendable (Result<T, any Error>) -> Void) {
        completion(Result { try run(body) })
    }

    private func run<T>(_ body: (any LogWriter) throws -> T) throws -> T {
        let (value, head): (T, UInt64) = try tables.withLock { t in
            let txn = MemoryTxn(tables: t, clock: clock)
            let v = try body(txn)
            t = txn.tables
            return (v, UInt64(t.records.count))
        }
        signal.publish(head)
        return value
    }

    public func close() { signal.close() }
}

/// A copy-on-write transaction over the in-memory tables.
final class MemoryTxn: LogWriter, AppendBackend {
    var tables: MemoryEventStore.Tables
    var nextSequence: UInt64
    var previousHash: ChainHash
    var recordBuffer: [UInt8] = []
    let clock: @Sendable () -> Int64
    var dirty = false

    init(tables: MemoryEventStore.Tables, clock: @escaping @Sendable () -> Int64) {
        self.tables = tables
        self.clock = clock
        nextSequence = UInt64(tables.records.count) + 1
        previousHash = tables.records.last.map { ChainHash(Array($0.suffix(32))) } ?? .genesis
    }

    func head() throws -> UInt64 { nextSequence - 1 }
    func headHash() throws -> [UInt8] { previousHash.bytes }

    func forEachRawRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        var i = Int(max(sequence, 1)) - 1
        while i < tables.records.count {
            let go = try tables.records[i].withUnsafeBytes { try body(UInt64(i + 1), $0) }
            if !go { return }
            i += 1
        }
    }

    func withRawRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard sequence >= 1, sequence <= UInt64(tables.records.count) else { return nil }
        return try tables.records[Int(sequence - 1)].withUnsafeBytes(body)
    }

    func streamHead(_ stream: String) throws -> StreamHead? { tables.heads[stream] }

    func forEachStream(from start: String, _ body: (String, StreamHead) throws -> Bool) throws {
        let from = Array(start.utf8)
        for name in tables.heads.keys.filter({ !Array($0.utf8).lexicographicallyPrecedes(from) })
            .sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            if let h = tables.heads[name], try !body(name, h) { return }
        }
    }

    func streamCount() throws -> Int { tables.heads.count }
    func eventIdCount() throws -> Int { tables.ids.count }
    func sequence(ofEventId id: UUID) throws -> UInt64? { tables.ids[id] }

    func get(_ key: [UInt8], in database: String) throws -> [UInt8]? {
        _ = try SideKeys.key(database, key)
        return tables.side[database]?[key]
    }

    func scan(_ database: String, from start: [UInt8],
              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        _ = try SideKeys.prefix(database)
        guard let db = tables.side[database] else { return }
        for key in db.keys.filter({ !$0.lexicographicallyPrecedes(start) }).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let value = db[key] else { continue }
            let go = try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try body(k, v) } }
            if !go { return }
        }
    }

    func checkpoint(_ name: String) throws -> UInt64? { tables.checkpoints[name] }

    func append(_ appends: [StreamAppend]) throws -> AppendResult { try performAppend(appends) }

    func storeRecord(sequence: UInt64, bytes: [UInt8]) throws {
        dirty = true
        precondition(sequence == UInt64(tables.records.count) + 1)
        tables.records.append(bytes)
    }

    func storeEventIdIfNew(_ id: UUID, sequence: UInt64) throws -> Bool {
        if tables.ids[id] != nil { return false }
        dirty = true
        tables.ids[id] = sequence
        return true
    }

    func storeStreamHead(_ stream: String, _ head: StreamHead) throws {
        dirty = true
        tables.heads[stream] = head
    }

    func put(_ key: [UInt8], _ value: [UInt8], in database: String) throws {
        _ = try SideKeys.key(database, key)
        dirty = true
        tables.side[database, default: [:]][key] = value
    }

    func delete(_ key: [UInt8], in database: String) throws {
        _ = try SideKeys.key(database, key)
        dirty = true
        tables.side[database]?[key] = nil
    }

    func clear(_ database: String) throws {
        _ = try SideKeys.prefix(database)
        dirty = true
        tables.side[database] = nil
    }

    func setCheckpoint(_ name: String, _ sequence: UInt64) throws {
        _ = try SideKeys.checkpointKey(name)
        dirty = true
        tables.checkpoints[name] = sequence
    }
}
