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
    /// Stores `id → sequence` unless `id` is already stored; returns false (writing nothing) then.
    func storeEventIdIfNew(_ id: UUID, sequence: UInt64) throws -> Bool
    func storeStreamHead(_ stream: String, _ head: StreamHead) throws
}

extension AppendBackend {
    func performAppend(_ appends: [StreamAppend]) throws -> AppendResult {
        // 1. Validate everything before writing anything.
        var total = 0
        for a in appends {
            for e in a.events { try RecordFormat.validate(stream: a.stream, e) }
            if a.events.isEmpty { try RecordFormat.validate(stream: a.stream, NewEvent(type: "-", payload: [])) }
            total += a.events.count
        }
        if total > 1 {
            var ids = Set<UUID>(minimumCapacity: total)
            for a in appends {
                for e in a.events where !ids.insert(e.id).inserted {
                    throw EventLogError.invalid("event id \(e.id) appears twice in one append")
                }
            }
        }
        // 2. Idempotent retry: when the first id is stored, every id must be (a retry resends exactly
        //    the original events) and the answer is the original positions. Ids after the first are
        //    checked as they are written (`storeEventIdIfNew`), which spares a lookup per event.
        if let first = appends.lazy.flatMap(\.events).first, try sequence(ofEventId: first.id) != nil {
            var positions: [EventPosition] = []
            for a in appends {
                for e in a.events {
                    guard let s = try sequence(ofEventId: e.id) else {
                        throw EventLogError(.partialDuplicate,
                                            "some of the \(total) event ids are already stored and some are not; a retry must resend exactly the original events")
                    }
                    guard let r = try record(at: s) else {
                        throw EventLogError(.corrupted, "event id index points at missing sequence \(s)", sequence: s)
                    }
                    positions.append(EventPosition(sequence: s, stream: r.stream, version: r.version))
                }
            }
            return AppendResult(positions: positions, wasDuplicate: true)
        }
        // 3. Expected versions (a stream named twice is checked against its version after the first part).
        var heads: [String: (start: StreamHead, current: StreamHead)] = [:]
        if appends.count > 1 { heads.reserveCapacity(appends.count) }
        for a in appends {
            let h: StreamHead
            if let known = heads[a.stream] { h = known.current } else {
                h = try streamHead(a.stream) ?? StreamHead(version: 0, lastSequence: 0)
                heads[a.stream] = (h, h)
            }
            guard a.expected.accepts(h.version) else {
                throw EventLogError.wrongVersion(stream: a.stream, expected: a.expected, current: h.version)
            }
            // Provisional: the real last sequence is filled in while writing.
            heads[a.stream]!.current = StreamHead(version: h.version + UInt64(a.events.count), lastSequence: h.lastSequence)
        }
        for key in heads.keys { heads[key]!.current = heads[key]!.start }
        // 4. Write.
        var positions: [EventPosition] = []
        positions.reserveCapacity(total)
        let now = clock()
        var buf = recordBuffer
        defer { recordBuffer = buf }
        for a in appends {
            var h = heads[a.stream]!.current
            for e in a.events {
                let seq = nextSequence
                let ver = h.version + 1
                let hash = RecordFormat.encode(stream: a.stream, event: e,
                                               fields: .init(sequence: seq, version: ver, timestampMicros: e.timestampMicros ?? now,
                                                             schemaVersion: e.schemaVersion, previousInStream: h.lastSequence),
                                               previousHash: previousHash, into: &buf)
                try storeRecord(sequence: seq, bytes: buf)
                guard try storeEventIdIfNew(e.id, sequence: seq) else {
                    throw EventLogError(.partialDuplicate,
                                        "event id \(e.id) is already stored but the append's first event is new; a retry must resend exactly the original events")
                }
                h = StreamHead(version: ver, lastSequence: seq)
                previousHash = hash
                nextSequence = seq + 1
                positions.append(EventPosition(sequence: seq, stream: a.stream, version: ver))
            }
            heads[a.stream]!.current = h
        }
        for (stream, h) in heads where h.current != h.start {
            try storeStreamHead(stream, h.current)
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
