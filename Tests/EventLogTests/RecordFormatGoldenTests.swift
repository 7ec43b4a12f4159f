import Crypto
import EventLog
import Foundation
import Testing

/// Pins the stored bytes: a fixed history (multi-stream appends, every metadata field present or not,
/// explicit and clock timestamps, a stream's back-links) must produce exactly these records and hash
/// chain, so that encoder optimisations cannot change the format of existing logs. The expected
/// values were computed independently of the Swift encoder, by a few lines of Python following the
/// layout table in `RecordFormat` (struct.pack("<BBHHHQQqQ", …) + id + lengths + strings + payload,
/// then SHA-256(previous hash ‖ body)).
@Suite("Record format golden bytes")
struct RecordFormatGoldenTests {
    /// SHA-256 over every stored record (in sequence order), and the chain's head hash.
    static let recordsDigest = "40c15f023c9bc84097f6e84212b8ca6fc0ffb2e63e9a11bbc7c4a2d18b746be8"
    static let headHash = "7484cfec2b64bcac98a70abfdec670d1d978bb8c214fc74b54867f66c430bd83"

    static func id(_ n: UInt8) -> UUID {
        UUID(uuid: (0x01, 0x8f, 0, 0, 0, n, 0x70, n, 0x80, 0, 0, 0, 0, 0, 0, n))
    }

    static func history(_ store: any EventStore) async throws {
        let t = Date(timeIntervalSince1970: 1_767_225_600.5)  // exact in binary: 1767225600500000 µs
        try await store.append(to: "ticket-1", [
            NewEvent(id: id(1), type: "Opened", schemaVersion: 2, timestamp: t,
                     metadata: EventMetadata(actor: "staff:анна", correlationId: "corr", causationId: "cause"),
                     payload: Array("hello".utf8)),
            NewEvent(id: id(2), type: "Commented", payload: []),
        ])
        try await store.append([
            StreamAppend(stream: "ticket-2", events: [
                NewEvent(id: id(3), type: "Opened", metadata: EventMetadata(actor: "a"), payload: [0, 1, 255])]),
            StreamAppend(stream: "ticket-1", expected: .exact(2), events: [
                NewEvent(id: id(4), type: "Closed", metadata: EventMetadata(causationId: "k"), payload: [7])]),
            StreamAppend(stream: "ticket-2", events: [
                NewEvent(id: id(5), type: "Merged", timestamp: t, payload: Array(repeating: 42, count: 300))]),
        ])
        try await store.append(to: "ticket-1", [NewEvent(id: id(6), type: "Reopened", payload: [1])])
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("a fixed history is stored byte for byte as format 1", arguments: StoreKind.allCases)
    func golden(kind: StoreKind) async throws {
        let clock: @Sendable () -> Int64 = { 1_700_000_000_000_000 }
        func check(_ store: any EventStore) async throws {
            try await Self.history(store)
            var sha = SHA256()
            let (count, head) = try store.read { r -> (Int, [UInt8]) in
                var n = 0
                try r.forEachRawRecord(from: 1) { _, raw in
                    sha.update(bufferPointer: raw)
                    n += 1
                    return true
                }
                return (n, try r.headHash())
            }
            #expect(count == 6)
            #expect(Self.hex(sha.finalize()) == Self.recordsDigest)
            #expect(Self.hex(head) == Self.headHash)
        }
        switch kind {
        case .memory:
            try await check(MemoryEventStore(clock: clock))
        case .lmdb:
            let dir = try TempDir()
            var options = LMDBOptions()
            options.clock = clock
            let store = try LMDBEventStore(directory: dir.url, options: options)
            defer { store.close() }
            try await check(store)
            #expect(try store.verify().ok)
        }
    }

    @Test("decodeWithoutBytes gives the same record without its payload and hash, and the payload in place")
    func withoutBytes() async throws {
        let store = MemoryEventStore()
        try await Self.history(store)
        let pairs = try store.read { r -> [(RecordedEvent, RecordedEvent, [UInt8])] in
            var out: [(RecordedEvent, RecordedEvent, [UInt8])] = []
            try r.forEachRawRecord(from: 1) { _, raw in
                let (thin, payload) = try RecordFormat.decodeWithoutBytes(raw)
                out.append((try RecordFormat.decode(raw), thin, Array(payload)))
                return true
            }
            return out
        }
        #expect(pairs.count == 6)
        for (full, thin, payload) in pairs {
            #expect(thin.payload.isEmpty && thin.hash.isEmpty)
            #expect(payload == full.payload)
            var same = full
            same.payload = []
            same.hash = []
            #expect(thin == same)
        }
        #expect(pairs.contains { $0.2.count == 300 } && pairs.contains { $0.2.isEmpty })
    }

    @Test("decodeForFold keeps sequence, type, schema, time and actor, and finds the payload after the fields it skips")
    func forFold() async throws {
        let store = MemoryEventStore()
        try await Self.history(store)
        let triples = try store.read { r -> [(RecordedEvent, RecordedEvent, [UInt8])] in
            var out: [(RecordedEvent, RecordedEvent, [UInt8])] = []
            try r.forEachRawRecord(from: 1) { _, raw in
                let (lean, payload) = try RecordFormat.decodeForFold(raw)
                out.append((try RecordFormat.decode(raw), lean, Array(payload)))
                return true
            }
            return out
        }
        #expect(triples.count == 6)
        #expect(triples.contains { $0.0.metadata.correlationId != nil || $0.0.metadata.causationId != nil })
        #expect(triples.contains { $0.0.metadata.actor != nil } && triples.contains { $0.0.metadata.actor == nil })
        for (full, lean, payload) in triples {
            #expect(payload == full.payload)
            #expect(lean.sequence == full.sequence && lean.type == full.type && lean.schemaVersion == full.schemaVersion)
            #expect(lean.timestampMicros == full.timestampMicros && lean.metadata.actor == full.metadata.actor)
            #expect(lean.stream.isEmpty && lean.metadata.correlationId == nil && lean.payload.isEmpty && lean.hash.isEmpty)
        }
    }
}
