import ArgumentParser
import EventLog
import Foundation

struct LogBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Event log: durable appends at 1/16/256 appenders, bulk import, full read, stream reads.")

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Seconds per concurrent-append run.") var seconds: Double = 3
    @Option(help: "Events in the bulk import.") var bulkEvents: Int = 1_000_000
    @Option(help: "Events per bulk-import transaction.") var bulkChunk: Int = 20_000
    @Option(help: "Reads of the 1,000-event stream for the latency figures.") var streamReads: Int = 2_000
    @Option(help: "Folder for scratch data (default: the working directory).") var dir: String?
    @Option(help: "Run only these parts (comma-separated: append, bulk, streams); for profiling.") var only: String?

    func wants(_ part: String) -> Bool { only.map { $0.split(separator: ",").contains(Substring(part)) } ?? true }

    func run() async throws {
        var report = Report()
        report.jsonOnly = json
        let folder = try scratchFolder(dir)
        defer { try? FileManager.default.removeItem(at: folder) }
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 200)

        // 1. Durable single-event appends with 1, 16 and 256 concurrent appenders.
        let appendStore = try LMDBEventStore(directory: folder.appendingPathComponent("append"))
        for (key, n) in [("append_1_eps", 1), ("append_16_eps", 16), ("append_256_eps", 256)] where wants("append") {
            let c0 = appendStore.writerCounters
            let eps = try await concurrentAppends(appendStore, appenders: n, seconds: seconds, payload: payload)
            report.add(key, "durable appends, \(n) appender\(n == 1 ? "" : "s")", eps, "events/s")
            let c = appendStore.writerCounters
            if !json {
                let commits = Double(c.commits - c0.commits)
                FileHandle.standardError.write(Data(String(format: "    %.0f commits, %.1f requests/commit, build %.3f ms, commit %.3f ms per commit\n",
                    commits, Double(c.requests - c0.requests) / commits, (c.buildSeconds - c0.buildSeconds) * 1000 / commits,
                    (c.commitSeconds - c0.commitSeconds) * 1000 / commits).utf8))
            }
        }
        appendStore.close()

        // 2. Bulk import: many events per durable transaction.
        let bulk = try LMDBEventStore(directory: folder.appendingPathComponent("bulk"))
        if wants("bulk") {
        let t0 = monotonicSeconds()
        // Two chunks in flight: the next one is built while the writer commits the previous one,
        // as an importer reading its source would do.
        try await withThrowingTaskGroup(of: Void.self) { group in
            var written = 0
            var n = 0
            var inFlight = 0
            while written < bulkEvents {
                let count = min(bulkChunk, bulkEvents - written)
                var events: [StreamAppend] = []
                events.reserveCapacity(count)
                for _ in 0..<count {
                    n += 1
                    events.append(StreamAppend(stream: "stream-\(n % 10_000)", events: [
                        NewEvent(type: "Imported", metadata: EventMetadata(actor: "import"), payload: payload)]))
                }
                let chunk = events
                if inFlight == 2 { try await group.next(); inFlight -= 1 }
                group.addTask { try await bulk.write { w in _ = try w.append(chunk) } }
                inFlight += 1
                written += count
            }
            try await group.waitForAll()
        }
        let importSecs = monotonicSeconds() - t0
        if !json {
            let c = bulk.writerCounters
            FileHandle.standardError.write(Data(String(format: "    %d commits, build %.3f s, commit %.3f s, wall %.3f s\n",
                c.commits, c.buildSeconds, c.commitSeconds, importSecs).utf8))
        }
        report.add("bulk_import_eps", "bulk import of \(bulkEvents) × ~200 B events", Double(bulkEvents) / importSecs, "events/s")

        // 3. Full read with envelope decoding (every field copied out into a RecordedEvent).
        var best = 0.0
        for _ in 0..<3 {
            let r0 = monotonicSeconds()
            var count = 0
            var bytes = 0
            try bulk.read { r in
                try r.forEachRawRecord(from: 1) { _, raw in
                    let rec = try RecordFormat.decode(raw)
                    bytes &+= rec.payload.count
                    count += 1
                    return true
                }
            }
            precondition(count == bulkEvents && bytes > 0)
            best = max(best, Double(count) / (monotonicSeconds() - r0))
        }
        report.add("full_read_eps", "full read with envelope decoding (best of 3)", best, "events/s")
        }
        bulk.close()

        // 4. Latency of reading one 1,000-event stream (among 100 interleaved streams).
        if wants("streams") {
        let streams = try LMDBEventStore(directory: folder.appendingPathComponent("streams"))
        for _ in 0..<10 {
            var appends: [StreamAppend] = []
            for i in 0..<10_000 {
                appends.append(StreamAppend(stream: "ticket-\(i % 100)", events: [NewEvent(type: "E", payload: payload)]))
            }
            let a = appends
            try await streams.write { w in _ = try w.append(a) }
        }
        var latencies: [Double] = []
        latencies.reserveCapacity(streamReads)
        for i in 0..<streamReads {
            let s0 = monotonicSeconds()
            let events = try streams.readStream("ticket-\(i % 100)")
            latencies.append((monotonicSeconds() - s0) * 1000)
            precondition(events.count == 1000)
        }
        latencies.sort()
        streams.close()
        report.add("stream_read_p50_ms", "read a 1,000-event stream, p50", percentile(latencies, 0.5), "ms")
        report.add("stream_read_p99_ms", "read a 1,000-event stream, p99", percentile(latencies, 0.99), "ms")
        }
        report.add("peak_rss_mb", "peak memory", peakRSSMegabytes(), "MB")
        report.print(json: json, context: ["durability": "durable"])
    }

    func concurrentAppends(_ store: LMDBEventStore, appenders: Int, seconds: Double, payload: [UInt8]) async throws -> Double {
        let deadline = monotonicSeconds() + seconds
        let t0 = monotonicSeconds()
        let total = try await withThrowingTaskGroup(of: Int.self) { group -> Int in
            for a in 0..<appenders {
                group.addTask {
                    var n = 0
                    while monotonicSeconds() < deadline {
                        try await store.append(to: "appender-\(a)", [NewEvent(type: "Appended", payload: payload)])
                        n += 1
                    }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (monotonicSeconds() - t0)
    }
}
