import Foundation

/// The storage primitives an append needs. Both stores implement them, and `performAppend` holds
/// the one copy of the rules (validation, idempotency, expected versions, hash chain).
protocol AppendBackend: AnyObject, LogReader {
    /// Next sequence to assign and the hash of the last record, as seen inside this transaction.
    var nextSequence: UInt64 { get set }
    var previousHash: [UInt8] { get set }
    /// Scratch buffer reused across records.
    var recordBuffer: [UInt8] { get set }
    var clock: @Sendable () -> Int64 { get }
    /// Set by every primitive write: a request that throws after writing must not be kept.
    var dirty: Bool { get set }
    func storeRecord(sequence: UInt64, bytes: [UInt8]) throws
    func storeEventId(_ id: UUID, sequence: UInt64) throws
    func storeStreamHead(_ stream: String, _ head: StreamHead) throws
}

extension AppendBackend {
    func performAppend(_ appends: [StreamAppend]) throws -> AppendResult {
        // 1. Validate everything before writing anything.
        var ids = Set<UUID>()
        var total = 0
        for a in appends {
            for e in a.events {
                try RecordFormat.validate(stream: a.stream, e)
                if !ids.insert(e.id).inserted {
                    throw EventLogError.invalid("event id \(e.id) appears twice in one append")
                }
                total += 1
            }
            if a.events.isEmpty { try RecordFormat.validate(stream: a.stream, NewEvent(type: "-", payload: [])) }
        }
        // 2. Idempotent retry: every id already stored → answer with the original positions.
        if total > 0 {
            var found: [UInt64] = []
            found.reserveCapacity(total)
            for a in appends { for e in a.events { if let s = try sequence(ofEventId: e.id) { found.append(s) } } }
            if found.count == total {
                var positions: [EventPosition] = []
                for s in found {
                    guard let r = try record(at: s) else {
                        throw EventLogError(.corrupted, "event id index points at missing sequence \(s)", sequence: s)
                    }
                    positions.append(EventPosition(sequence: s, stream: r.stream, version: r.version))
                }
                return AppendResult(positions: positions, wasDuplicate: true)
            }
            if !found.isEmpty {
                throw EventLogError(.partialDuplicate,
                                    "\(found.count) of \(total) event ids are already stored (first at sequence \(found[0])); a retry must resend exactly the original events",
                                    sequence: found[0])
            }
        }
        // 3. Expected versions (a stream named twice is checked against its version after the first part).
        var startHeads: [String: StreamHead] = [:]
        var versions: [String: UInt64] = [:]
        for a in appends {
            let current: UInt64
            if let v = versions[a.stream] { current = v } else {
                let h = try streamHead(a.stream) ?? StreamHead(version: 0, lastSequence: 0)
                startHeads[a.stream] = h
                current = h.version
            }
            guard a.expected.accepts(current) else {
                throw EventLogError.wrongVersion(stream: a.stream, expected: a.expected, current: current)
            }
            versions[a.stream] = current + UInt64(a.events.count)
        }
        // 4. Write.
        var heads = startHeads
        var positions: [EventPosition] = []
        positions.reserveCapacity(total)
        let now = clock()
        for a in appends {
            for e in a.events {
                let seq = nextSequence
                let h = heads[a.stream] ?? StreamHead(version: 0, lastSequence: 0)
                let ver = h.version + 1
                let ts = e.timestampMicros ?? now
                var buf = recordBuffer
                let hash = RecordFormat.encode(stream: a.stream, event: e,
                                               fields: .init(sequence: seq, version: ver, timestampMicros: ts,
                                                             schemaVersion: e.schemaVersion, previousInStream: h.lastSequence),
                                               previousHash: previousHash, into: &buf)
                try storeRecord(sequence: seq, bytes: buf)
                recordBuffer = buf
                try storeEventId(e.id, sequence: seq)
                heads[a.stream] = StreamHead(version: ver, lastSequence: seq)
                previousHash = hash
                nextSequence = seq + 1
                positions.append(EventPosition(sequence: seq, stream: a.stream, version: ver))
            }
        }
        for (stream, h) in heads where h != startHeads[stream] {
            try storeStreamHead(stream, h)
        }
        return AppendResult(positions: positions, wasDuplicate: false)
    }
}

/// Side-database keys: the database name, NUL, the caller's key (all side databases share one LMDB
/// table; a name is a key prefix).
enum SideKeys {
    static func prefix(_ database: String) throws -> [UInt8] {
        guard !database.isEmpty, !database.utf8.contains(0), database.utf8.count <= 100 else {
            throw EventLogError.invalid("side database name must be 1…100 bytes without NUL")
        }
        return Array(database.utf8) + [0]
    }
    static func key(_ database: String, _ key: [UInt8]) throws -> [UInt8] {
        let k = try prefix(database) + key
        guard k.count <= Limits.maxKeyBytes else {
            throw EventLogError.invalid("side key of \(key.count) bytes is too long for database '\(database)'")
        }
        return k
    }
    static func checkpointKey(_ name: String) throws -> [UInt8] {
        guard !name.isEmpty, name.utf8.count <= 400 else { throw EventLogError.invalid("checkpoint name must be 1…400 bytes") }
        return Array(name.utf8)
    }
}
