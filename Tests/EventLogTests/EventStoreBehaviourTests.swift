import EventLog
import Foundation
import Testing

/// One behavioural suite, two stores: every test here runs against the LMDB log and its in-memory twin.
@Suite("Event store behaviour")
struct EventStoreBehaviourTests {
    @Test("appends get gapless sequences from 1 and versions per stream", arguments: StoreKind.allCases)
    func gaplessSequencesAndVersions(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let a = try await store.append(to: "ticket-1", [event("Opened"), event("Commented")])
            let b = try await store.append(to: "ticket-2", [event("Opened")])
            let c = try await store.append(to: "ticket-1", [event("Closed")])
            #expect(a.positions.map(\.sequence) == [1, 2])
            #expect(a.positions.map(\.version) == [1, 2])
            #expect(b.positions.map(\.sequence) == [3])
            #expect(b.positions.map(\.version) == [1])
            #expect(c.positions == [EventPosition(sequence: 4, stream: "ticket-1", version: 3)])
            #expect(store.committedHead == 4)
            let all = try store.readAll()
            #expect(all.map(\.sequence) == [1, 2, 3, 4])
            #expect(all.map(\.type) == ["Opened", "Commented", "Opened", "Closed"])
            #expect(all[0].metadata.correlationId == "corr-1")
            #expect(try store.streamVersion("ticket-1") == 3)
            #expect(try store.streamVersion("nope") == 0)
        }
    }

    @Test("records keep every field", arguments: StoreKind.allCases)
    func recordsKeepFields(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let id = UUID()
            let when = Date(timeIntervalSince1970: 1_767_225_600.123456)
            let e = NewEvent(id: id, type: "CommentAdded", schemaVersion: 3, timestamp: when,
                             metadata: EventMetadata(actor: "staff:анна", correlationId: "c", causationId: nil),
                             payload: [0, 1, 2, 255])
            try await store.append(to: "поток-1", [e])
            let r = try #require(try store.readAll().first)
            #expect(r.id == id)
            #expect(r.stream == "поток-1")
            #expect(r.type == "CommentAdded")
            #expect(r.schemaVersion == 3)
            #expect(r.timestampMicros == 1_767_225_600_123_456)
            #expect(r.metadata == EventMetadata(actor: "staff:анна", correlationId: "c", causationId: nil))
            #expect(r.payload == [0, 1, 2, 255])
            #expect(r.hash.count == 32)
        }
    }

    @Test("expected versions: no stream, exact, any; a mismatch carries the current version", arguments: StoreKind.allCases)
    func expectedVersions(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.append(to: "s", expected: .noStream, [event()])
            try await store.append(to: "s", expected: .exact(1), [event()])
            try await store.append(to: "s", expected: .any, [event()])
            let e1 = await logError { try await store.append(to: "s", expected: .noStream, [event()]) }
            #expect(e1?.code == .wrongExpectedVersion)
            #expect(e1?.currentVersion == 3)
            #expect(e1?.stream == "s")
            let e2 = await logError { try await store.append(to: "s", expected: .exact(2), [event()]) }
            #expect(e2?.code == .wrongExpectedVersion)
            #expect(e2?.currentVersion == 3)
            let e3 = await logError { try await store.append(to: "new", expected: .exact(1), [event()]) }
            #expect(e3?.currentVersion == 0)
            #expect(store.committedHead == 3)
        }
    }

    @Test("a multi-stream append is atomic: one mismatch writes nothing", arguments: StoreKind.allCases)
    func multiStreamAtomic(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.append(to: "b", [event()])
            let err = await logError {
                try await store.append([StreamAppend(stream: "a", expected: .noStream, events: [event(), event()]),
                                        StreamAppend(stream: "b", expected: .noStream, events: [event()])])
            }
            #expect(err?.code == .wrongExpectedVersion)
            #expect(err?.stream == "b")
            #expect(try store.streamVersion("a") == 0)
            #expect(store.committedHead == 1)
            let ok = try await store.append([StreamAppend(stream: "a", expected: .noStream, events: [event(), event()]),
                                             StreamAppend(stream: "b", expected: .exact(1), events: [event()])])
            #expect(ok.positions.map(\.sequence) == [2, 3, 4])
            #expect(ok.streamVersions == ["a": 2, "b": 2])
            #expect(try store.verify().ok)
        }
    }

    @Test("an idempotent retry returns the original positions and writes nothing", arguments: StoreKind.allCases)
    func idempotentRetry(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let batch = [event("A"), event("B")]
            let first = try await store.append(to: "s", expected: .noStream, batch)
            try await store.append(to: "other", [event()])
            // The retry's expected version is stale, but it is recognised as a retry by its ids.
            let retry = try await store.append(to: "s", expected: .noStream, batch)
            #expect(retry.wasDuplicate)
            #expect(!first.wasDuplicate)
            #expect(retry.positions == first.positions)
            #expect(store.committedHead == 3)
            // Some ids known, some new: refused, nothing written.
            let err = await logError { try await store.append(to: "s", [batch[0], event("C")]) }
            #expect(err?.code == .partialDuplicate)
            #expect(store.committedHead == 3)
            // The same id twice in one append is invalid.
            let twice = event()
            let err2 = await logError { try await store.append(to: "s", [twice, twice]) }
            #expect(err2?.code == .invalidInput)
        }
    }

    @Test("two appenders with the same expected version: exactly one succeeds", arguments: StoreKind.allCases)
    func concurrentSameExpectedVersion(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for round in 0..<20 {
                let stream = "race-\(round)"
                try await store.append(to: stream, [event()])
                let results = await withTaskGroup(of: Bool.self) { group -> [Bool] in
                    for _ in 0..<2 {
                        group.addTask {
                            (try? await store.append(to: stream, expected: .exact(1), [event("Accepted")])) != nil
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(results.filter { $0 }.count == 1, "round \(round): \(results)")
                #expect(try store.streamVersion(stream) == 2)
            }
        }
    }

    @Test("bad input is refused with a clear error and writes nothing", arguments: StoreKind.allCases)
    func badInput(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let cases: [StreamAppend] = [
                StreamAppend(stream: "", events: [event()]),
                StreamAppend(stream: String(repeating: "x", count: 401), events: [event()]),
                StreamAppend(stream: "nul\u{0}", events: [event()]),
                StreamAppend(stream: "s", events: [NewEvent(type: "", payload: [])]),
                StreamAppend(stream: "s", events: [NewEvent(type: "Big", payload: [UInt8](repeating: 1, count: Limits.maxPayloadBytes + 1))]),
            ]
            for c in cases {
                let e = await logError { try await store.append([StreamAppend(stream: "fine", events: [event()]), c]) }
                #expect(e?.code == .invalidInput)
                #expect(e?.message.isEmpty == false)
            }
            // The same event id twice in one append (found while writing) also leaves nothing behind,
            // and a request grouped with it still commits.
            let twice = event()
            async let bad = logError { try await store.append([StreamAppend(stream: "a", events: [event(), twice]),
                                                              StreamAppend(stream: "b", events: [twice])]) }
            async let good: AppendResult = store.append(to: "c", [event()])
            let (badError, goodResult) = try await (bad, good)
            #expect(badError?.code == .invalidInput)
            #expect(badError?.message.contains("appears twice") == true)
            #expect(goodResult.positions.count == 1)
            #expect(try store.readAll().map(\.stream) == ["c"])
            #expect(try store.streamVersion("a") == 0)
        }
    }

    @Test("reads: whole log in batches, one stream forward and backward", arguments: StoreKind.allCases)
    func reads(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for i in 1...25 {
                try await store.append(to: "s-\(i % 3)", [event("E", "\(i)")])
            }
            var seen: [UInt64] = []
            var from: UInt64 = 1
            while true {
                let batch = try store.readAll(from: from, limit: 7)
                if batch.isEmpty { break }
                seen += batch.map(\.sequence)
                from = batch.last!.sequence + 1
            }
            #expect(seen == Array(1...25))
            let s1 = try store.readStream("s-1")
            #expect(s1.map(text) == ["1", "4", "7", "10", "13", "16", "19", "22", "25"])
            #expect(s1.map(\.version) == Array(1...9))
            #expect(try store.readStream("s-1", from: 4, limit: 2).map(text) == ["10", "13"])
            #expect(try store.readStream("s-1", from: 3, backward: true).map(text) == ["7", "4", "1"])
            #expect(try store.readStream("s-1", from: .max, backward: true, limit: 2).map(text) == ["25", "22"])
            #expect(try store.readStream("s-10").isEmpty)
            // A stream whose name is a prefix of another's stays separate.
            try await store.append(to: "s", [event("E", "short")])
            #expect(try store.readStream("s").map(text) == ["short"])
            #expect(try store.readStream("s", from: .max, backward: true).map(text) == ["short"])
        }
    }

    @Test("a stream as it was at a global position or a moment", arguments: StoreKind.allCases)
    func asOfReads(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let t0 = Date(timeIntervalSince1970: 1_000_000)
            for i in 0..<6 {
                try await store.append(to: i % 2 == 0 ? "t" : "u", [event("E", "\(i)", at: t0.addingTimeInterval(Double(i) * 60))])
            }
            #expect(try store.readStream("t", asOf: .sequence(3)).map(text) == ["0", "2"])
            #expect(try store.readStream("t", asOf: .sequence(0)).isEmpty)
            #expect(try store.readStream("t", asOf: .time(t0.addingTimeInterval(150))).map(text) == ["0", "2"])
            #expect(try store.readStream("t", asOf: .time(t0.addingTimeInterval(240))).map(text) == ["0", "2", "4"])
            #expect(try store.readStream("u", asOf: .time(t0.addingTimeInterval(-1))).isEmpty)
        }
    }

    @Test("a subscription catches up, then follows live commits", arguments: StoreKind.allCases)
    func subscription(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for i in 1...3 { try await store.append(to: "s", [event("E", "\(i)")]) }
            let reader = Task { () -> [String] in
                var got: [String] = []
                for try await r in store.subscribe(from: 2, batchSize: 2) {
                    got.append(text(r))
                    if got.count == 6 { break }
                }
                return got
            }
            for i in 4...7 { try await store.append(to: "s", [event("E", "\(i)")]) }
            #expect(try await reader.value == ["2", "3", "4", "5", "6", "7"])
        }
    }

    @Test("a waiting subscription ends on cancellation", arguments: StoreKind.allCases)
    func subscriptionCancellation(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let reader = Task { () -> Int in
                var n = 0
                do { for try await _ in store.subscribe() { n += 1 } } catch is CancellationError { return -n }
                return n
            }
            try await store.append(to: "s", [event()])
            try await Task.sleep(for: .milliseconds(50))
            reader.cancel()
            #expect(try await reader.value == -1)
        }
    }

    @Test("side databases and checkpoints commit with appends; a throwing write leaves nothing", arguments: StoreKind.allCases)
    func sideDatabasesAndCheckpoints(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            struct Boom: Error {}
            try await store.write { w in
                let r = try w.append([StreamAppend(stream: "s", events: [event()])])
                try w.put([1], Array("one".utf8), in: "proj")
                try w.put([2], Array("two".utf8), in: "proj")
                try w.put([1], Array("other".utf8), in: "proj2")
                try w.setCheckpoint("proj", r.lastSequence)
            }
            await #expect(throws: Boom.self) {
                try await store.write { w in
                    _ = try w.append([StreamAppend(stream: "s", events: [event()])])
                    try w.put([3], Array("three".utf8), in: "proj")
                    try w.setCheckpoint("proj", 99)
                    throw Boom()
                }
            }
            try store.read { (r) throws in
                #expect(try r.head() == 1)
                #expect(try r.checkpoint("proj") == 1)
                #expect(try r.checkpoint("missing") == nil)
                #expect(try r.get([1], in: "proj") == Array("one".utf8))
                #expect(try r.get([3], in: "proj") == nil)
                var keys: [[UInt8]] = []
                try r.scan("proj", from: []) { k, _ in keys.append(Array(k)); return true }
                #expect(keys == [[1], [2]])
                keys = []
                try r.scan("proj", from: [2]) { k, _ in keys.append(Array(k)); return true }
                #expect(keys == [[2]])
            }
            try await store.write { w in try w.clear("proj"); try w.delete([1], in: "proj2") }
            try store.read { (r) throws in
                #expect(try r.get([2], in: "proj") == nil)
                #expect(try r.get([1], in: "proj2") == nil)
            }
            #expect(try store.verify().ok)
        }
    }

    @Test("background writes commit beside ordinary ones, in their own order; a throwing one leaves nothing", arguments: StoreKind.allCases)
    func backgroundWrites(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            struct Boom: Error {}
            // Thirty background writes, each putting its number and moving a checkpoint, issued one
            // after another without waiting, while thirty appends run beside them.
            let outcomes = await withTaskGroup(of: Bool.self) { group -> [Bool] in
                var pending: [Task<Void, any Error>] = []
                for i in 0..<30 {
                    let before = pending.last
                    pending.append(Task {
                        try await before?.value
                        try await store.writeInBackground { w in
                            try w.put([UInt8(i)], [UInt8(i)], in: "bulk")
                            try w.setCheckpoint("bulk", UInt64(i + 1))
                        }
                    })
                    group.addTask { (try? await store.append(to: "s-\(i)", [event()])) != nil }
                }
                for p in pending { group.addTask { (try? await p.value) != nil } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == 60 && outcomes.allSatisfy { $0 })
            await #expect(throws: Boom.self) {
                try await store.writeInBackground { w in
                    try w.put([200], [1], in: "bulk")
                    try w.setCheckpoint("bulk", 999)
                    throw Boom()
                }
            }
            #expect(store.committedHead == 30)
            try store.read { (r) throws in
                #expect(try r.checkpoint("bulk") == 30)
                var keys: [UInt8] = []
                try r.scan("bulk", from: []) { k, _ in keys.append(k.first!); return true }
                #expect(keys == Array(0..<30))
            }
            #expect(try store.verify().ok)
        }
    }

    @Test("a failing request does not spoil the others committed with it", arguments: StoreKind.allCases)
    func failuresAreIsolatedInAGroup(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            struct Boom: Error {}
            try await store.append(to: "taken", [event()])
            let outcomes = await withTaskGroup(of: String.self) { group -> [String] in
                for i in 0..<60 {
                    group.addTask {
                        do {
                            switch i % 3 {
                            case 0: try await store.append(to: "ok-\(i)", [event()])
                            case 1: try await store.append(to: "taken", expected: .noStream, [event()])
                            default:
                                try await store.write { w in
                                    _ = try w.append([StreamAppend(stream: "half-\(i)", events: [event()])])
                                    throw Boom()
                                }
                            }
                            return "ok"
                        } catch { return "failed" }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "ok" }.count == 20)
            #expect(store.committedHead == 21)
            let streams = Set(try store.readAll(limit: 100).map(\.stream))
            #expect(streams.allSatisfy { $0 == "taken" || $0.hasPrefix("ok-") })
            #expect(try store.verify().ok)
        }
    }

    @Test("verify walks the chain and the indexes", arguments: StoreKind.allCases)
    func verifyIntact(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            #expect(try store.verify() == VerifyReport(ok: true, eventsChecked: 0, streamsChecked: 0))
            for i in 0..<50 { try await store.append(to: "s-\(i % 7)", [event("E", "\(i)")]) }
            let report = try store.verify()
            #expect(report.ok)
            #expect(report.eventsChecked == 50)
            #expect(report.streamsChecked == 7)
            // The chain links each record to the previous one.
            let all = try store.readAll(limit: 100)
            #expect(Set(all.map(\.hash)).count == 50)
        }
    }

    @Test("both stores produce the same hash chain for the same events")
    func sameChain() async throws {
        let events = (0..<20).map { i in
            event("E", "\(i)", id: UUID(uuidString: String(format: "00000000-0000-0000-0000-%012d", i))!,
                  at: Date(timeIntervalSince1970: Double(i)))
        }
        var hashes: [[[UInt8]]] = []
        for kind in StoreKind.allCases {
            hashes.append(try await withStore(kind) { store in
                for e in events { try await store.append(to: "s", [e]) }
                return try store.readAll(limit: 100).map(\.hash)
            })
        }
        #expect(hashes[0] == hashes[1])
    }
}

