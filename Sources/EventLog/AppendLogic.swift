import Foundation

/// The storage primitives an append needs. Both stores implement them, and `performAppend` holds
/// the one copy of the rules (validation, idempotency, expected versions, hash chain).
protocol AppendBackend: AnyObject, LogReader {
    /// Next sequence to assign and the hash of the last record, as seen inside this transaction.
    var nextSequence: UInt64 { get set }
    var previousHash: ChainHash { get set }
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
        // 1. Validate everything before writing anything (a part's stream name once, then its events).
        var total = 0
        for a in appends {
            try RecordFormat.validate(stream: a.stream)
            for e in a.events { try RecordFormat.validate(event: e) }
            total += a.events.count
        }
        // 2. Idempotent retry: when the first id is stored, every id must be (a retry resends exactly
        //    the original events) and the answer is the original positions. Ids after the first are
        //    checked as they are written (`storeEventIdIfNew`), which spares a lookup per event and
        //    also catches an id given twice in one append.
        if let first = appends.lazy.flatMap(\.events).first, try sequence(ofEventId: first.id) != nil {
            return try originalPositions(appends, total: total)
        }
        var positions: [EventPosition] = []
        positions.reserveCapacity(total)
        let now = clock()
        var buf = recordBuffer
        defer { recordBuffer = buf }
        let firstSequence = nextSequence
        // 3. Expected versions, then 4. write. One stream (the common case) needs no slot tables.
        if appends.count == 1 {
            let a = appends[0]
            let start = try streamHead(a.stream) ?? StreamHead(version: 0, lastSequence: 0)
            guard a.expected.accepts(start.version) else {
                throw EventLogError.wrongVersion(stream: a.stream, expected: a.expected, current: start.version)
            }
            let end = try write(a, after: start, now: now, firstSequence: firstSequence, buffer: &buf, positions: &positions)
            if end != start { try storeStreamHead(a.stream, end) }
            return AppendResult(positions: positions, wasDuplicate: false)
        }
        // Several parts: a stream named twice is checked against its version after the earlier part.
        // One hash lookup per part; the writing loop then works on array slots.
        var heads: [(stream: String, start: StreamHead, current: StreamHead)] = []
        heads.reserveCapacity(min(appends.count, 1 << 16))
        var slotOf: [String: Int] = [:]
        slotOf.reserveCapacity(min(appends.count, 1 << 16))
        var slots: [Int] = []
        slots.reserveCapacity(appends.count)
        for a in appends {
            let slot: Int
            if let known = slotOf[a.stream] {
                slot = known
            } else {
                slot = heads.count
                slotOf[a.stream] = slot
                let h = try streamHead(a.stream) ?? StreamHead(version: 0, lastSequence: 0)
                heads.append((a.stream, h, h))
            }
            let version = heads[slot].current.version
            guard a.expected.accepts(version) else {
                throw EventLogError.wrongVersion(stream: a.stream, expected: a.expected, current: version)
            }
            heads[slot].current.version = version + UInt64(a.events.count)
            slots.append(slot)
        }
        for i in heads.indices { heads[i].current = heads[i].start }
        for (i, a) in appends.enumerated() {
            let slot = slots[i]
            heads[slot].current = try write(a, after: heads[slot].current, now: now, firstSequence: firstSequence,
                                            buffer: &buf, positions: &positions)
        }
        for h in heads where h.current != h.start {
            try storeStreamHead(h.stream, h.current)
        }
        return AppendResult(positions: positions, wasDuplicate: false)
    }

    /// Writes one part's events after the stream's head `head`; returns the stream's new head.
    ///
    /// The chain position (`nextSequence`, `previousHash`) is kept in locals and stored back when the
    /// part ends or throws (same values as storing after every event): each access to a class's
    /// stored property costs a dynamic exclusivity check.
    private func write(_ a: StreamAppend, after head: StreamHead, now: Int64, firstSequence: UInt64,
                       buffer buf: inout [UInt8], positions: inout [EventPosition]) throws -> StreamHead {
        var h = head
        var next = nextSequence
        var hash = previousHash
        defer {
            nextSequence = next
            previousHash = hash
        }
        try a.events.withUnsafeBufferPointer { events in
            for i in events.indices {
                let seq = next
                let ver = h.version + 1
                let recordHash = RecordFormat.encode(stream: a.stream, event: events[i],
                                                     fields: .init(sequence: seq, version: ver,
                                                                   timestampMicros: events[i].timestampMicros ?? now,
                                                                   schemaVersion: events[i].schemaVersion,
                                                                   previousInStream: h.lastSequence),
                                                     previousHash: hash, into: &buf)
                try storeRecord(sequence: seq, bytes: buf)
                let id = events[i].id
                guard try storeEventIdIfNew(id, sequence: seq) else {
                    if let earlier = try sequence(ofEventId: id), earlier >= firstSequence {
                        throw EventLogError.invalid("event id \(id) appears twice in one append")
                    }
                    throw EventLogError(.partialDuplicate,
                                        "event id \(id) is already stored but the append's first event is new; a retry must resend exactly the original events")
                }
                h = StreamHead(version: ver, lastSequence: seq)
                hash = recordHash
                next = seq + 1
                positions.append(EventPosition(sequence: seq, stream: a.stream, version: ver))
            }
        }
        return h
    }

    /// The answer to an idempotent retry: where each (already stored) event landed the first time.
    private func originalPositions(_ appends: [StreamAppend], total: Int) throws -> AppendResult {
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
