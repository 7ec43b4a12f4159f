import EventLog
import Foundation
import Testing

/// What only the LMDB store can show: files, processes, locks, map growth, damage on disk.
@Suite("LMDB store")
struct LMDBStoreTests {
    @Test("history survives a reopen and the chain continues across it")
    func reopen() async throws {
        let dir = try TempDir()
        do {
            let s = try LMDBEventStore(directory: dir.url)
            for i in 0..<10 { try await s.append(to: "s", [event("E", "\(i)")]) }
            s.close()
        }
        let s = try LMDBEventStore(directory: dir.url)
        defer { s.close() }
        #expect(s.committedHead == 10)
        let r = try await s.append(to: "s", expected: .exact(10), [event("E", "10")])
        #expect(r.positions.first?.sequence == 11)
        #expect(try s.verify().ok)
        #expect(try s.readStream("s").map(text) == (0...10).map(String.init))
    }

    /// Resident kilobytes of this process's mappings of `file` (/proc/self/smaps).
    static func residentKB(of file: String) throws -> Int {
        guard let h = FileHandle(forReadingAtPath: "/proc/self/smaps") else { return 0 }
        defer { try? h.close() }
        let smaps = String(decoding: try h.readToEnd() ?? Data(), as: UTF8.self)
        var inFile = false, kb = 0
        for line in smaps.split(separator: "\n") {
            if let first = line.first, first.isHexDigit, line.contains("-"), line.split(separator: " ").count >= 5 {
                inFile = line.hasSuffix(" " + file)
            } else if inFile, line.hasPrefix("Rss:") {
                kb += Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
            }
        }
        return kb
    }

    @Test("releaseReadPages drops the log's pages from resident memory, and reads still see every event")
    func releaseReadPages() async throws {
        #if os(Linux)
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url)
        defer { s.close() }
        let payload = String(repeating: "y", count: 1_000)
        for i in 0..<40 { try await s.append(to: "s-\(i)", (0..<250).map { _ in event("E", payload) }) }  // ~10 MB
        let file = dir.url.appendingPathComponent("data.mdb").resolvingSymlinksInPath().path
        func readAll() throws -> Int { try (0..<40).reduce(0) { $0 + (try s.readStream("s-\($1)").count) } }
        #expect(try readAll() == 10_000)
        let before = try Self.residentKB(of: file)
        #expect(before > 8_000, "the reads mapped the log: \(before) KB")
        s.releaseReadPages()
        let after = try Self.residentKB(of: file)
        #expect(after < before / 4, "\(before) KB → \(after) KB")
        #expect(try readAll() == 10_000)
        #expect(try s.readStream("s-7").map(text).allSatisfy { $0 == payload })
        #endif
    }

    @Test("releaseReadPages finds the map again after it grew (and moved)")
    func releaseAfterGrowth() async throws {
        #if os(Linux)
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url, options: LMDBOptions(initialMapSize: 64 * 1024))
        defer { s.close() }
        s.releaseReadPages()  // where the first, tiny map was is now known
        let payload = String(repeating: "g", count: 1_000)
        for i in 0..<40 { try await s.append(to: "s-\(i)", (0..<250).map { _ in event("E", payload) }) }  // ~10 MB: grows the map
        let file = dir.url.appendingPathComponent("data.mdb").resolvingSymlinksInPath().path
        #expect(try (0..<40).reduce(0) { $0 + (try s.readStream("s-\($1)").count) } == 10_000)
        let before = try Self.residentKB(of: file)
        s.releaseReadPages()
        let after = try Self.residentKB(of: file)
        #expect(before > 8_000 && after < before / 4, "\(before) KB → \(after) KB")
        #expect(try s.readStream("s-3").map(text).allSatisfy { $0 == payload })
        #endif
    }

    @Test("a writer releases the pages it read through the map in the middle of its transaction, and goes on")
    func writerReleasesReadPages() async throws {
        #if os(Linux)
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url)
        defer { s.close() }
        let payload = String(repeating: "z", count: 1_000)
        for i in 0..<40 { try await s.append(to: "s-\(i)", (0..<250).map { _ in event("E", payload) }) }  // ~10 MB
        s.releaseReadPages()
        let file = dir.url.appendingPathComponent("data.mdb").resolvingSymlinksInPath().path
        let (read, before, after) = try await s.write { w -> (Int, Int, Int) in
            var read = 0
            try w.forEachRawRecord(from: 1) { _, _ in read += 1; return true }
            let before = try Self.residentKB(of: file)
            w.releaseReadPages()
            let after = try Self.residentKB(of: file)
            try w.put(Array("k".utf8), Array("v".utf8), in: "side.test")
            return (read, before, after)
        }
        #expect(read == 10_000)
        #expect(before > 8_000, "the writer's reads mapped the log: \(before) KB")
        #expect(after < before / 4, "\(before) KB → \(after) KB")
        #expect(try s.read { try $0.get(Array("k".utf8), in: "side.test") } == Array("v".utf8))
        #endif
    }

    @Test("background writes run at a lower priority than ordinary ones, and closing answers those still queued")
    func backgroundPriority() async throws {
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url)
        #if os(Linux)
        let ordinary = try await s.write { _ in getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        let background = try await s.writeInBackground { _ in getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        #expect(background == ordinary + BackgroundThread.nice)
        #endif
        // Queued and not awaited, then closed: each is answered, committed or refused, none hangs.
        let queued = (0..<20).map { i in
            Task { try await s.writeInBackground { w in try w.put([UInt8(i)], [1], in: "bulk") } }
        }
        try await Task.sleep(for: .milliseconds(5))
        s.close()
        var committed = 0
        for q in queued {
            do { try await q.value; committed += 1 } catch let e as EventLogError { #expect(e.code == .closed) }
        }
        let again = try LMDBEventStore(directory: dir.url)
        defer { again.close() }
        var stored = 0
        try again.read { (r) throws in try r.scan("bulk", from: []) { _, _ in stored += 1; return true } }
        #expect(stored == committed)
    }

    @Test("a tiny initial map fills and grows without losing or refusing an append")
    func mapGrows() async throws {
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url, options: LMDBOptions(initialMapSize: 64 * 1024))
        defer { s.close() }
        let payload = String(repeating: "x", count: 200)
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group -> [AppendResult] in
            for i in 0..<4000 {
                group.addTask { try await s.append(to: "s-\(i % 50)", [event("E", payload)]) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4000)
        #expect(Set(results.map(\.lastSequence)) == Set(1...4000))
        let stats = try s.stats()
        #expect(stats.mapGrowths > 0)
        #expect(stats.mapBytes > 64 * 1024)
        #expect(stats.events == 4000)
        #expect(try s.verify().ok)
    }

    @Test("a second writer is refused with a clear message; readers work beside the writer")
    func folderLock() async throws {
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url)
        defer { s.close() }
        try await s.append(to: "s", [event()])
        let err = await logError { _ = try LMDBEventStore(directory: dir.url) }
        #expect(err?.code == .locked)
        #expect(err?.message.contains("held for writing by another process") == true)
        // The same refusal from another process, through the tool.
        let (status, _, stderr) = try runTool("helpdesk", ["restore", dir.url.path, "--data", dir.url.path])
        #expect(status != 0)
        #expect(stderr.contains("held for writing"))
        // Read-only commands work while the writer runs.
        let (vs, out, _) = try runTool("helpdesk", ["verify", "--data", dir.url.path])
        #expect(vs == 0)
        #expect(out.contains("ok: 1 events"))
        let ro = try LMDBEventStore(directory: dir.url, options: LMDBOptions(readOnly: true))
        defer { ro.close() }
        #expect(ro.committedHead == 1)
        let e2 = await logError { try await ro.append(to: "s", [event()]) }
        #expect(e2?.code == .readOnly)
    }

    @Test("a byte flipped in a copy of the data file is found by verify, with a clear message")
    func byteFlipDetected() async throws {
        let dir = try TempDir()
        let marker = "MARKER-PAYLOAD-0123456789"
        do {
            let s = try LMDBEventStore(directory: dir.url)
            for i in 0..<30 { try await s.append(to: "s-\(i % 3)", [event("E", i == 17 ? marker : "ordinary \(i)")]) }
            s.close()
        }
        let copy = try TempDir()
        var bytes = [UInt8](try Data(contentsOf: dir.url.appendingPathComponent("data.mdb")))
        let needle = Array(marker.utf8)
        // LMDB is copy-on-write: stale copies of the page may remain in the file, so flip every copy.
        let hits = bytes.ranges(of: needle)
        #expect(!hits.isEmpty)
        for r in hits { bytes[r.lowerBound + 7] ^= 0x01 }
        try Data(bytes).write(to: copy.url.appendingPathComponent("data.mdb"))
        let damaged = try LMDBEventStore(directory: copy.url, options: LMDBOptions(readOnly: true))
        let report = try damaged.verify()
        damaged.close()
        #expect(!report.ok)
        #expect(report.firstBadSequence == 18)
        #expect(report.problem?.contains("hash mismatch") == true)
        let (status, out, _) = try runTool("helpdesk", ["verify", "--data", copy.url.path])
        #expect(status == 1)
        #expect(out.contains("BAD at sequence 18"))
        // The original is intact.
        let (okStatus, _, _) = try runTool("helpdesk", ["verify", "--data", dir.url.path])
        #expect(okStatus == 0)
    }

    @Test("a record of an unknown future format version is a clear error, not a crash")
    func unknownFormatVersion() async throws {
        let store = MemoryEventStore()
        try await store.append(to: "s", [event()])
        var raw: [UInt8] = []
        try store.read { r in try r.forEachRawRecord(from: 1) { _, b in raw = Array(b); return false } }
        #expect(try RecordFormat.decode(raw).stream == "s")
        raw[0] = 2
        #expect(throws: EventLogError.self) { try RecordFormat.decode(raw) }
        do { _ = try RecordFormat.decode(raw) } catch let e as EventLogError {
            #expect(e.code == .unknownFormatVersion)
            #expect(e.message.contains("newer"))
        }
        // Truncated and garbage records are `corrupted`, never a crash.
        for cut in [0, 10, 57, 89, raw.count - 1] {
            var bad = Array(raw.prefix(cut))
            if !bad.isEmpty { bad[0] = 1 }
            do { _ = try RecordFormat.decode(bad); Issue.record("decoded a \(cut)-byte record") } catch let e as EventLogError {
                #expect(e.code == .corrupted)
            }
        }
    }

    @Test("backup while writing, then restore into a fresh folder")
    func backupAndRestore() async throws {
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url)
        for i in 0..<200 { try await s.append(to: "s-\(i % 4)", [event("E", "\(i)")]) }
        let dest = try TempDir()
        let backupDir = dest.url.appendingPathComponent("b1")
        // Hot backup through the tool while the writer holds the folder.
        let writes = Task { for i in 200..<400 { try await s.append(to: "s-\(i % 4)", [event("E", "\(i)")]) } }
        let (status, out, err) = try runTool("helpdesk", ["backup", backupDir.path, "--data", dir.url.path])
        #expect(status == 0, "\(err)")
        #expect(out.contains("backed up"))
        try await writes.value
        s.close()
        // A second backup into the same folder is refused.
        let (again, _, err2) = try runTool("helpdesk", ["backup", backupDir.path, "--data", dir.url.path])
        #expect(again != 0)
        #expect(err2.contains("already holds"))
        let restored = try TempDir()
        let (rs, rout, rerr) = try runTool("helpdesk", ["restore", backupDir.path, "--data", restored.url.path])
        #expect(rs == 0, "\(rerr)")
        #expect(rout.contains("restored"))
        let r = try LMDBEventStore(directory: restored.url)
        defer { r.close() }
        #expect(r.committedHead >= 200)
        #expect(try r.verify().ok)
        // The restored log takes new appends with a continuing chain.
        try await r.append(to: "s-0", [event()])
        #expect(try r.verify().ok)
    }

    @Test("stats reports events, streams, sizes and readers")
    func stats() async throws {
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url)
        for i in 0..<30 { try await s.append(to: "s-\(i % 5)", [event()]) }
        s.close()
        let (status, out, _) = try runTool("helpdesk", ["stats", "--json", "--data", dir.url.path])
        #expect(status == 0)
        let st = try JSONDecoder().decode(StoreStats.self, from: Data(out.utf8))
        #expect(st.events == 30)
        #expect(st.streams == 5)
        #expect(st.fileBytes > 0)
        #expect(st.mapUsedBytes > 0 && st.mapUsedBytes <= st.mapBytes)
    }

    @Test("read-only commands on a folder without a log say so")
    func missingLog() throws {
        let dir = try TempDir()
        let (status, _, err) = try runTool("helpdesk", ["verify", "--data", dir.url.appendingPathComponent("nope").path])
        #expect(status != 0)
        #expect(err.contains("no event log"))
    }
}
