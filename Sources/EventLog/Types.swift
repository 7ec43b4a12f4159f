import Foundation

/// What a writer expects a stream's current version to be when it appends (optimistic concurrency).
///
/// Stream versions count events in the stream: the first event of a stream has version 1, so a stream
/// that does not exist is at version 0.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// Append whatever the stream's version is.
    case any
    /// The stream must not exist yet (version 0).
    case noStream
    /// The stream must be exactly at this version (0 is the same as `noStream`).
    case exact(UInt64)

    public var description: String {
        switch self {
        case .any: "any"
        case .noStream: "no stream"
        case .exact(let v): "exactly \(v)"
        }
    }

    func accepts(_ current: UInt64) -> Bool {
        switch self {
        case .any: true
        case .noStream: current == 0
        case .exact(let v): current == v
        }
    }
}

/// Who did it and why: stored with every record.
public struct EventMetadata: Sendable, Hashable, Codable {
    /// The acting person, rule or timer, e.g. `"staff:anna"`, `"timer:escalation"`.
    public var actor: String?
    /// Groups every event caused by one request.
    public var correlationId: String?
    /// The command or event that caused this one.
    public var causationId: String?

    public init(actor: String? = nil, correlationId: String? = nil, causationId: String? = nil) {
        self.actor = actor
        self.correlationId = correlationId
        self.causationId = causationId
    }

    public static let none = EventMetadata()
}

/// An event as a writer proposes it.
public struct NewEvent: Sendable, Hashable {
    /// Unique id. Appending an id that is already stored is an idempotent retry.
    public var id: UUID
    /// Event type name, e.g. `"TicketOpened"`.
    public var type: String
    /// Schema version of the payload for this type.
    public var schemaVersion: UInt16
    /// Microseconds since the Unix epoch; `nil` = the log's clock at append time.
    public var timestampMicros: Int64?
    public var metadata: EventMetadata
    /// Opaque payload bytes (the log never looks inside).
    public var payload: [UInt8]

    public init(id: UUID = .timeOrdered(), type: String, schemaVersion: UInt16 = 1, timestamp: Date? = nil,
                metadata: EventMetadata = .none, payload: [UInt8]) {
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.timestampMicros = timestamp.map(Timestamp.micros(from:))
        self.metadata = metadata
        self.payload = payload
    }
}

/// A committed record of the log.
public struct RecordedEvent: Sendable, Hashable {
    /// Gapless global position, starting at 1.
    public var sequence: UInt64
    public var stream: String
    /// Version within the stream, starting at 1.
    public var version: UInt64
    public var id: UUID
    public var type: String
    public var schemaVersion: UInt16
    public var timestampMicros: Int64
    public var metadata: EventMetadata
    public var payload: [UInt8]
    /// SHA-256 over the previous record's hash and this record's bytes.
    public var hash: [UInt8]

    public var timestamp: Date { Timestamp.date(fromMicros: timestampMicros) }
}

/// Where one appended event landed.
public struct EventPosition: Sendable, Hashable {
    public var sequence: UInt64
    public var stream: String
    public var version: UInt64
    public init(sequence: UInt64, stream: String, version: UInt64) {
        self.sequence = sequence
        self.stream = stream
        self.version = version
    }
}

/// The outcome of an append: one position per proposed event, in order.
public struct AppendResult: Sendable, Hashable {
    public var positions: [EventPosition]
    /// True when every event id was already stored: nothing was written (an idempotent retry).
    public var wasDuplicate: Bool
    public var lastSequence: UInt64 { positions.last?.sequence ?? 0 }
    public var firstSequence: UInt64 { positions.first?.sequence ?? 0 }
    /// The last version of each stream written to.
    public var streamVersions: [String: UInt64] {
        var out: [String: UInt64] = [:]
        for p in positions { out[p.stream] = max(out[p.stream] ?? 0, p.version) }
        return out
    }
}

/// One stream's part of an atomic multi-stream append.
public struct StreamAppend: Sendable, Hashable {
    public var stream: String
    public var expected: ExpectedVersion
    public var events: [NewEvent]
    public init(stream: String, expected: ExpectedVersion = .any, events: [NewEvent]) {
        self.stream = stream
        self.expected = expected
        self.events = events
    }
}

/// A point in history for audit reads.
public enum HistoryPoint: Sendable, Hashable {
    /// Everything up to and including this global sequence.
    case sequence(UInt64)
    /// Everything with a timestamp at or before this instant.
    case time(Date)
}

/// How hard each commit waits for the disk.
public enum Durability: String, Sendable, Hashable, CaseIterable, Codable {
    /// Default: a caller is answered only after its batch is on disk, data and meta page.
    ///
    /// The environment runs with `MDB_NOMETASYNC`: the writer's commit syncs the data pages (so the
    /// meta page can never point at unwritten data) and writes the meta page without syncing it; a
    /// second thread then runs `mdb_env_sync` for everything committed meanwhile and only then answers
    /// the callers and wakes subscribers. The writer builds and commits the next batch while that sync
    /// runs, so the two fsyncs of a commit overlap with other work instead of adding up. (A reader in
    /// another process may see a batch a moment before its callers are answered.)
    case durable
    /// RELAXED (`MDB_NOMETASYNC`): data pages are synced but the meta page is not, so an OS crash or
    /// power loss may lose the last committed batch(es); the database stays intact. Process crashes lose nothing.
    case relaxedNoMetaSync = "relaxed-no-meta-sync"
    /// UNSAFE (`MDB_NOSYNC`): nothing is fsynced; for throwaway benchmarks and tests only.
    case unsafeNoSync = "unsafe-no-sync"
}

/// Time helpers: records store microseconds since the Unix epoch.
public enum Timestamp {
    public static func micros(from date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
    public static func date(fromMicros m: Int64) -> Date {
        Date(timeIntervalSince1970: Double(m) / 1_000_000)
    }
    public static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }
}

/// Limits enforced before anything is written.
public enum Limits {
    /// Stream names are UTF-8, 1…400 bytes, without NUL (LMDB keys are at most 511 bytes).
    public static let maxStreamBytes = 400
    public static let maxTypeBytes = 255
    public static let maxMetadataFieldBytes = 1024
    /// Keep blobs out of the log: store them by content hash beside it.
    public static let maxPayloadBytes = 4 * 1024 * 1024
    public static let maxKeyBytes = 511
}
