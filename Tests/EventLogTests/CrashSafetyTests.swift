import EventLog
import Foundation
import Testing

/// Nothing acknowledged is ever lost, across `kill -9`.
@Suite("Crash safety")
struct CrashSafetyTests {
    struct Ack: Hashable {
        let sequence: UInt64
        let id: UUID
        let stream: String
    }

    /// Starts the child, lets it append with 32 concurrent appenders for a random while, SIGKILLs it,
    /// and returns the acknowledgements it printed (complete lines only).
    func runChild(dir: URL, killAfterMs: Int) throws -> [Ack] {
        let p = Process()
        p.executableURL = productsDirectory().appendingPathComponent("eventlog-crash-child")
        p.arguments = [dir.path, "32"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        let collected = ResultHolder()
        collected.data = Data()
        let reader = Thread {
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                collected.data = (collected.data ?? Data()) + chunk
            }
        }
        try p.run()
        reader.start()
        // Wait until the child has opened the store, then give it a random time to append.
        let deadline = Date().addingTimeInterval(30)
        while !String(decoding: collected.data ?? Data(), as: UTF8.self).contains("READY") && Date() < deadline {
            usleep(2_000)
        }
        usleep(UInt32(killAfterMs * 1000))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        while reader.isExecuting || !reader.isFinished { usleep(1_000) }
        let text = String(decoding: collected.data ?? Data(), as: UTF8.self)
        // Only complete lines count: a line cut by the kill was never fully acknowledged to us.
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        return complete.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 4, parts[0] == "ACK", let seq = UInt64(parts[1]), let id = UUID(uuidString: String(parts[2])) else {
                return nil
            }
            return Ack(sequence: seq, id: id, stream: String(parts[3]))
        }
    }

    @Test("SIGKILL at random moments, 20 rounds: every acknowledged event is present and intact")
    func killNineRounds() throws {
        let dir = try TempDir()
        var rng = SystemRandomNumberGenerator()
        var allAcks: [Ack] = []
        for round in 1...20 {
            let acks = try runChild(dir: dir.url, killAfterMs: Int.random(in: 20...250, using: &rng))
            allAcks += acks
            let store = try LMDBEventStore(directory: dir.url, options: LMDBOptions(readOnly: true))
            defer { store.close() }
            let report = try store.verify()
            #expect(report.ok, "round \(round): \(report.problem ?? "")")
            let head = store.committedHead
            try store.read { (r) throws in
                for a in allAcks {
                    let rec = try #require(try r.record(at: a.sequence), "round \(round): acknowledged sequence \(a.sequence) is missing")
                    #expect(rec.id == a.id, "round \(round): sequence \(a.sequence) holds another event")
                    #expect(rec.stream == a.stream)
                    #expect(try r.sequence(ofEventId: a.id) == a.sequence)
                }
                // Gapless: every sequence up to the head decodes, and nothing lies beyond it.
                var n: UInt64 = 0
                try r.forEachRawRecord(from: 1) { seq, _ in n += 1; #expect(seq == n); return true }
                #expect(n == head)
            }
        }
        #expect(allAcks.count > 100, "the child acknowledged too little to prove anything: \(allAcks.count)")
        #expect(Set(allAcks.map(\.sequence)).count == allAcks.count)
    }
}
