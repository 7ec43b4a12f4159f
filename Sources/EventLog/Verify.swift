import Foundation

/// The outcome of walking the hash chain and the indexes.
public struct VerifyReport: Sendable, Hashable, Codable {
    public var ok: Bool
    public var eventsChecked: UInt64
    public var streamsChecked: Int
    /// The first sequence at which something is wrong (nil when the problem is not tied to one record).
    public var firstBadSequence: UInt64?
    /// What is wrong, in plain words.
    public var problem: String?

    public init(ok: Bool, eventsChecked: UInt64, streamsChecked: Int, firstBadSequence: UInt64? = nil, problem: String? = nil) {
        self.ok = ok
        self.eventsChecked = eventsChecked
        self.streamsChecked = streamsChecked
        self.firstBadSequence = firstBadSequence
        self.problem = problem
    }
}

extension EventStore {
    /// Walks every record: format, gapless sequence, hash chain, stream versions and back-links, stream heads and id index; then checks
    /// that the indexes hold nothing else. Stops at the first problem.
    public func verify(progress: ((UInt64) -> Void)? = nil) throws -> VerifyReport {
        try read { r in try r.verifyLog(progress: progress) }
    }
}

extension LogReader {
    func verifyLog(progress: ((UInt64) -> Void)?) throws -> VerifyReport {
        var expected: UInt64 = 1
        var previous = RecordFormat.genesisHash
        var heads: [String: StreamHead] = [:]
        var bad: (UInt64?, String)?
        func fail(_ seq: UInt64?, _ message: String) -> Bool { bad = (seq, message); return false }
        do {
            try forEachRawRecord(from: 1) { seq, raw in
                guard seq == expected else {
                    return fail(expected, "sequence \(expected) is missing (next stored key is \(seq))")
                }
                let rec: RecordedEvent
                do { rec = try RecordFormat.decode(raw) } catch {
                    return fail(seq, "record does not decode: \(error)")
                }
                guard rec.sequence == seq else {
                    return fail(seq, "record says sequence \(rec.sequence) but is stored under \(seq)")
                }
                guard let (stored, computed) = RecordFormat.checkHash(raw, previous: previous), stored == computed else {
                    return fail(seq, "hash mismatch: the record or an earlier one was changed after it was written")
                }
                let before = heads[rec.stream] ?? StreamHead(version: 0, lastSequence: 0)
                guard rec.version == before.version + 1 else {
                    return fail(seq, "stream '\(rec.stream)' jumps from version \(before.version) to \(rec.version)")
                }
                guard let (_, link) = RecordFormat.peekIndex(raw), link == before.lastSequence else {
                    return fail(seq, "record's link to the previous event of stream '\(rec.stream)' is wrong (should be \(before.lastSequence))")
                }
                heads[rec.stream] = StreamHead(version: rec.version, lastSequence: seq)
                guard try sequence(ofEventId: rec.id) == seq else {
                    return fail(seq, "event id index does not point event \(rec.id) at sequence \(seq)")
                }
                previous = stored
                expected += 1
                if seq % 100_000 == 0 { progress?(seq) }
                return true
            }
        } catch {
            bad = (expected, "reading failed: \(error)")
        }
        let checked = expected - 1
        if let (seq, msg) = bad {
            return VerifyReport(ok: false, eventsChecked: checked, streamsChecked: heads.count, firstBadSequence: seq, problem: msg)
        }
        // Nothing beyond what the records account for.
        var headProblem: String?
        try forEachStream { name, h in
            if heads[name] != h {
                let actual = heads[name].map { "version \($0.version) at sequence \($0.lastSequence)" } ?? "nothing"
                headProblem = "stream '\(name)' head says version \(h.version) at sequence \(h.lastSequence) but its records end at \(actual)"
                return false
            }
            return true
        }
        if headProblem == nil, try streamCount() != heads.count {
            headProblem = "\(try streamCount()) stream heads for \(heads.count) streams in the records"
        }
        if headProblem == nil, try eventIdCount() != Int(checked) {
            headProblem = "id index holds \(try eventIdCount()) entries for \(checked) events"
        }
        if let p = headProblem {
            return VerifyReport(ok: false, eventsChecked: checked, streamsChecked: heads.count, firstBadSequence: nil, problem: p)
        }
        return VerifyReport(ok: true, eventsChecked: checked, streamsChecked: heads.count, firstBadSequence: nil, problem: nil)
    }
}
