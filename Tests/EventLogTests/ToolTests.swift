import EventLog
import Foundation
import Testing

@Suite("helpdesk dump")
struct DumpToolTests {
    /// A log with three streams, known times and JSON / binary payloads.
    func makeLog() async throws -> TempDir {
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url)
        let t0 = Date(timeIntervalSince1970: 1_772_546_700)  // 2026-03-03T14:05:00Z
        for i in 0..<9 {
            let payload: [UInt8] = i == 4 ? [0xff, 0x00, 0x10] : Array("{\"n\":\(i),\"text\":\"привет\"}".utf8)
            try await s.append(to: "ticket-\(i % 3)", [NewEvent(type: i % 2 == 0 ? "Even" : "Odd",
                                                                timestamp: t0.addingTimeInterval(Double(i) * 3600),
                                                                metadata: EventMetadata(actor: "staff:\(i)"), payload: payload)])
        }
        s.close()
        return dir
    }

    func lines(_ out: String) throws -> [[String: Any]] {
        try out.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test("one JSON object per line with every field; JSON payloads decoded, others base64")
    func jsonLines() async throws {
        let dir = try await makeLog()
        let (status, out, err) = try runTool("helpdesk", ["dump", "--data", dir.url.path])
        #expect(status == 0, "\(err)")
        let rows = try lines(out)
        #expect(rows.count == 9)
        #expect(rows.map { $0["seq"] as? Int } == (1...9).map { $0 })
        let first = rows[0]
        #expect(first["stream"] as? String == "ticket-0")
        #expect(first["version"] as? Int == 1)
        #expect(first["type"] as? String == "Even")
        #expect(first["time"] as? String == "2026-03-03T14:05:00.000000Z")
        #expect((first["meta"] as? [String: Any])?["actor"] as? String == "staff:0")
        #expect((first["payload"] as? [String: Any])?["text"] as? String == "привет")
        #expect(rows[4]["payload_base64"] as? String == "/wAQ")
        #expect((rows[0]["hash"] as? String)?.count == 64)
    }

    @Test("filters: stream, type, from/to, since/until, limit")
    func filters() async throws {
        let dir = try await makeLog()
        let d = ["--data", dir.url.path]
        func seqs(_ args: [String]) throws -> [Int] {
            let (status, out, err) = try runTool("helpdesk", ["dump"] + args + d)
            #expect(status == 0, "\(err)")
            return try lines(out).compactMap { $0["seq"] as? Int }
        }
        #expect(try seqs(["--stream", "ticket-1"]) == [2, 5, 8])
        #expect(try seqs(["--type", "Odd"]) == [2, 4, 6, 8])
        #expect(try seqs(["--from", "3", "--to", "5"]) == [3, 4, 5])
        #expect(try seqs(["--since", "2026-03-03T16:05:00Z", "--until", "2026-03-03T18:05:00Z"]) == [3, 4, 5])
        #expect(try seqs(["--limit", "2", "--type", "Even"]) == [1, 3])
        #expect(try seqs(["--stream", "ticket-2", "--type", "Even", "--from", "4"]) == [9])
        let (bad, _, err) = try runTool("helpdesk", ["dump", "--since", "yesterday"] + d)
        #expect(bad != 0)
        #expect(err.contains("ISO 8601"))
    }

    @Test("--format table prints a header and one row per event")
    func table() async throws {
        let dir = try await makeLog()
        let (status, out, _) = try runTool("helpdesk", ["dump", "--format", "table", "--stream", "ticket-0", "--data", dir.url.path])
        #expect(status == 0)
        let rows = out.split(separator: "\n")
        #expect(rows.count == 4)
        #expect(rows[0].hasPrefix("SEQ"))
        #expect(rows[1].contains("ticket-0") && rows[1].contains("staff:0"))
    }

    @Test("--follow prints events committed by another process as they arrive")
    func follow() async throws {
        let dir = try await makeLog()
        let p = Process()
        p.executableURL = productsDirectory().appendingPathComponent("helpdesk")
        p.arguments = ["dump", "--follow", "--from", "9", "--data", dir.url.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        let collected = ResultHolder()
        collected.data = Data()
        let reader = Thread {
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                collected.data = (collected.data ?? Data()) + chunk
            }
        }
        reader.start()
        // Wait for the already committed event, then commit three more from this process.
        func lineCount() -> Int { String(decoding: collected.data ?? Data(), as: UTF8.self).split(separator: "\n").count }
        let deadline = Date().addingTimeInterval(20)
        while lineCount() < 1 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let s = try LMDBEventStore(directory: dir.url)
        for i in 0..<3 { try await s.append(to: "live", [event("Live", "{\"i\":\(i)}")]) }
        s.close()
        while lineCount() < 4 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        p.terminate()
        p.waitUntilExit()
        let rows = try lines(String(decoding: collected.data ?? Data(), as: UTF8.self))
        #expect(rows.compactMap { $0["seq"] as? Int } == [9, 10, 11, 12])
        #expect(rows.last?["stream"] as? String == "live")
    }
}
