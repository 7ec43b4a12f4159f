import ArgumentParser
import EventLog
import Projections
import Foundation

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events, one JSON object per line (or a table).",
        discussion: "Read-only: works beside a running service. --follow keeps printing new events as they are committed.")

    @OptionGroup var data: DataOptions
    @Option(help: "json (one object per line) or table.") var format: DumpFormat = .json
    @Option(help: "Only this stream.") var stream: String?
    @Option(help: "Only these event types (repeatable).") var type: [String] = []
    @Option(help: "First sequence number.") var from: UInt64 = 1
    @Option(help: "Last sequence number.") var to: UInt64?
    @Option(help: "Only events at or after this ISO 8601 time.") var since: String?
    @Option(help: "Only events at or before this ISO 8601 time.") var until: String?
    @Option(help: "Print at most this many events.") var limit: Int?
    @Flag(help: "Keep printing new events as they are committed, like tail -f.") var follow = false

    enum DumpFormat: String, ExpressibleByArgument { case json, table }

    func run() async throws {
        let sinceMicros = try since.map { Timestamp.micros(from: try parseISO8601($0)) }
        let untilMicros = try until.map { Timestamp.micros(from: try parseISO8601($0)) }
        let store: LMDBEventStore
        do { store = try data.openReadOnly() } catch { fail(describe(error)) }
        defer { store.close() }
        let printer = EventPrinter(format: format)
        let types = Set(type)
        var printed = 0
        func wanted(_ r: RecordedEvent) -> Bool {
            if let stream, r.stream != stream { return false }
            if !types.isEmpty, !types.contains(r.type) { return false }
            if let s = sinceMicros, r.timestampMicros < s { return false }
            if let u = untilMicros, r.timestampMicros > u { return false }
            return true
        }
        func done(_ r: RecordedEvent) -> Bool { (to.map { r.sequence > $0 } ?? false) }
        printer.header()
        do {
            if let stream, !follow {
                // Use the stream index rather than scanning the log.
                var version: UInt64 = 1
                outer: while true {
                    let batch = try store.read { r -> [RecordedEvent] in
                        var out: [RecordedEvent] = []
                        try r.forEachStreamEntry(stream, from: version, backward: false) { e in
                            if e.sequence >= from, let rec = try r.record(at: e.sequence) { out.append(rec) }
                            version = e.version + 1
                            return out.count < 1000
                        }
                        return out
                    }
                    if batch.isEmpty { break }
                    for r in batch {
                        if done(r) { break outer }
                        guard wanted(r) else { continue }
                        printer.print(r)
                        printed += 1
                        if let limit, printed >= limit { break outer }
                    }
                }
                return
            }
            if limit == 0 { return }
            for try await r in store.subscribe(from: from, batchSize: 1000) {
                if done(r) { break }
                if wanted(r) {
                    printer.print(r)
                    printed += 1
                    if let limit, printed >= limit { break }
                }
                if !follow && r.sequence >= store.committedHead {
                    // Not following: stop at the head as it was when this record was read.
                    if try store.read({ try $0.head() }) <= r.sequence { break }
                }
            }
        } catch {
            fail(describe(error))
        }
        if store.committedHead == 0 && !follow { return }
    }
}

func parseISO8601(_ s: String) throws -> Date {
    let f = ISO8601DateFormatter()
    for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
                                                  [.withFullDate]] {
        f.formatOptions = options
        if let d = f.date(from: s) { return d }
    }
    throw ValidationError("'\(s)' is not an ISO 8601 time (e.g. 2026-03-03T14:05:00Z or 2026-03-03)")
}

/// Formats records for people (table) or machines (JSON lines).
struct EventPrinter {
    let format: Dump.DumpFormat

    func header() {
        if format == .table {
            emit(pad("SEQ", 8) + " " + pad("TIME", 27) + " " + pad("STREAM", 20) + " " + pad("VER", 5) + " "
                 + pad("TYPE", 22) + " " + pad("ACTOR", 16) + " PAYLOAD")
        }
    }

    func print(_ r: RecordedEvent) {
        switch format {
        case .json: emit(EventJSON.line(r))
        case .table:
            let payload = PayloadRendering.render(type: r.type, schemaVersion: r.schemaVersion, bytes: r.payload)
            let summary = payload.json ?? "base64:" + Data(r.payload).base64EncodedString()
            emit(pad(String(r.sequence), 8) + " " + pad(EventJSON.time(r.timestampMicros), 27) + " " + pad(r.stream, 20)
                 + " " + pad(String(r.version), 5) + " " + pad(r.type, 22) + " " + pad(r.metadata.actor ?? "-", 16)
                 + " " + String(summary.prefix(80)))
        }
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? String(s.prefix(n)) : s + String(repeating: " ", count: n - s.count)
    }
}

func emit(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(10)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if n <= 0 { exit(0) }  // stdout closed (e.g. piped into head)
        offset += n
    }
}
