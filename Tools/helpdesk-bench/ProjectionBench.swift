import ArgumentParser
import BusinessTime
import DeskEngine
import EventLog
import Foundation
import Projections
import SupportDesk

/// Makes (or reuses) a generated history for the projection benchmarks.
func benchHistory(_ dir: String?, tickets: Int, reuse: String?) async throws -> (LMDBEventStore, URL, Bool) {
    if let reuse {
        let url = URL(fileURLWithPath: reuse)
        return (try LMDBEventStore(directory: url), url, false)
    }
    let folder = try scratchFolder(dir)
    let store = try LMDBEventStore(directory: folder.appendingPathComponent("desk"))
    let processor = try CommandProcessor(store: store, clock: ManualClock(Date(timeIntervalSince1970: 1_772_431_200)))
    var options = HistoryGenerator.Options(tickets: tickets, seed: 1)
    options.ticketsPerDay = max(60, tickets / 365)  // about a year of history
    let t0 = monotonicSeconds()
    let summary = try await HistoryGenerator(options).run(on: processor)
    FileHandle.standardError.write(Data(String(format: "  generated %d tickets, %d events in %.1f s\n", summary.ticketsOpened,
                                               store.committedHead, monotonicSeconds() - t0).utf8))
    return (store, folder, true)
}

struct RebuildBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild", abstract: "Rebuild every projection from zero.")
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Tickets in the generated history.") var tickets: Int = 20_000
    @Option(help: "Use this existing data folder instead of generating one.") var data: String?
    @Option(help: "Folder for scratch data.") var dir: String?
    @Option(help: "Events per rebuild batch (ProjectionRunner's rebuildBatchSize).") var batch: Int = ProjectionRunner.defaultRebuildBatchSize
    @Option(help: "Store a batch early past this many changed rows (ProjectionRunner's maxRowsPerFlush).") var maxRows: Int = 8_192
    @Option(help: "Events folded between checks of maxRows (ProjectionRunner's foldSlice).") var foldSlice: Int = 5_000
    @Flag(help: "Afterwards, show where the desk view's memory is (its parts dropped one by one).") var parts = false

    func run() async throws {
        var report = Report()
        report.jsonOnly = json
        let (store, folder, remove) = try await benchHistory(dir, tickets: tickets, reuse: data)
        defer { store.close(); if remove { try? FileManager.default.removeItem(at: folder) } }
        // The projections `helpdesk serve` runs.
        let desk = DeskView()
        let outbox = Outbox()
        let runner = ProjectionRunner(store: store, projections: [desk, outbox], rebuildBatchSize: batch, foldSlice: foldSlice, maxRowsPerFlush: maxRows)
        store.releaseReadPages()  // start the memory figures from the rebuild, not the generation
        let memory = MemorySampler()
        let t0 = monotonicSeconds()
        try await runner.rebuild(names: [])
        let secs = monotonicSeconds() - t0
        let peaks = memory.stop()
        report.add("rebuild_eps", "rebuild of every projection from \(store.committedHead) events", Double(store.committedHead) / secs, "events/s")
        let times = runner.lastRebuildTimings
        report.add("rebuild_fold_s", "folding side: folding", times.folding, "s")
        report.add("rebuild_take_s", "folding side: taking the changed rows", times.taking, "s")
        report.add("rebuild_wait_read_s", "folding side: waiting for reads", times.waitingForReads, "s")
        report.add("rebuild_wait_write_s", "folding side: waiting for writes", times.waitingForWrites, "s")
        report.add("rebuild_peak_rss_mb", "peak memory (resident, whole process run)", peakRSSMegabytes(), "MB")
        report.add("rebuild_peak_heap_mb", "peak anonymous memory during the rebuild (heap)", peaks.anonMB, "MB")
        report.add("rebuild_peak_mapped_mb", "peak file-backed resident memory during the rebuild (mapped log)", peaks.fileMB, "MB")
        report.add("rebuild_peak_allocated_mb", "peak bytes in use by the allocator during the rebuild (heap without free lists)", peaks.allocatedMB, "MB")
        let held = desk.ticketFigures
        report.print(json: json, context: ["events": String(store.committedHead), "tickets": String(held.tickets),
                                           "frozen_tickets": String(held.frozen), "live_tickets": String(held.live),
                                           "frozen_bytes_per_ticket": String(held.frozenBytes / max(held.frozen, 1))])
        if parts, let allocated = allocatedBytes() {
            print("in use after the rebuild: \(megabytes(allocated()))")
            _ = printParts(of: desk, measuring: allocated)
            let before = allocated(), waiting = outbox.all.count
            outbox.reset()
            print("  \(megabytes(before - allocated()))  outbox (\(waiting) entries)")
            print("in use without the desk view and the outbox: \(megabytes(allocated()))")
        }
    }
}

struct MemoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Where the desk view's memory goes: loaded from its rows, then each part dropped in turn.",
        discussion: "Figures are the allocator's bytes in use (tcmalloc's generic.current_allocated_bytes), so they leave out free lists and fragmentation.")
    @Option(help: "A data folder whose desk view is up to date (e.g. after helpdesk-bench rebuild --data).") var data: String

    func run() async throws {
        guard let allocated = allocatedBytes() else { throw ValidationError("the allocator does not report its bytes in use (tcmalloc not linked)") }
        let store = try LMDBEventStore(directory: URL(fileURLWithPath: data))
        defer { store.close() }
        let base = allocated()
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        let loaded = allocated() - base
        let held = view.ticketFigures
        print("desk view loaded from its rows: \(megabytes(loaded)), \(held.tickets) tickets, \(loaded / max(held.tickets, 1)) bytes per ticket")
        print("  \(megabytes(loaded - printParts(of: view, measuring: allocated)))  the rest")
    }
}

func megabytes(_ bytes: Int) -> String { String(format: "%8.1f MB", Double(bytes) / 1_048_576) }

/// Drops the view's parts one by one, printing what each held; returns their sum.
func printParts(of view: DeskView, measuring allocated: () -> Int) -> Int {
    var total = 0
    for (part, bytes) in view.releaseParts(measuring: allocated) {
        print("  \(megabytes(bytes))  \(part)")
        total += bytes
    }
    return total
}

/// The allocator's bytes in use, when it tells (tcmalloc does; the executables link it).
func allocatedBytes() -> (() -> Int)? {
    typealias Property = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<Int>) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "MallocExtension_GetNumericProperty") else { return nil }
    let get = unsafeBitCast(sym, to: Property.self)
    return {
        var v = 0
        _ = get("generic.current_allocated_bytes", &v)
        return v
    }
}

struct QueriesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queries",
                                                    abstract: "Client ticket list, staff feed page, ticket detail latencies; a year of payroll under a new formula.")
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Tickets in the generated history.") var tickets: Int = 20_000
    @Option(help: "Use this existing data folder instead of generating one.") var data: String?
    @Option(help: "Queries of each kind.") var queries: Int = 2_000
    @Option(help: "Folder for scratch data.") var dir: String?

    func run() async throws {
        var report = Report()
        report.jsonOnly = json
        let (store, folder, remove) = try await benchHistory(dir, tickets: tickets, reuse: data)
        defer { store.close(); if remove { try? FileManager.default.removeItem(at: folder) } }
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        let contacts = view.contactIds
        let staff = ["pavel", "anna", "dmitry", "elena", "olga"]
        let last = view.lastTicketNumber
        let now = Date(timeIntervalSince1970: 1_772_431_200 + 86_400 * 200)
        var rng = SplitMix64(seed: 9)
        func measure(_ body: () -> Void) -> [Double] {
            var out: [Double] = []
            out.reserveCapacity(queries)
            for _ in 0..<queries {
                let s = monotonicSeconds()
                body()
                out.append((monotonicSeconds() - s) * 1000)
            }
            return out.sorted()
        }
        var sink = 0
        let client = measure { sink &+= view.clientTickets(contact: contacts[rng.below(contacts.count)], limit: 50).count }
        var byKind: [String: [Double]] = [:]
        let feed = measure {
            var f = FeedFilter()
            if rng.chance(0.3) { f.unaccepted = true } else if rng.chance(0.3) { f.mine = true }
            let s = monotonicSeconds()
            sink &+= view.staffFeed(staff: staff[rng.below(staff.count)], filter: f, now: now, limit: 50).count
            byKind[f.unaccepted ? "unaccepted" : f.mine ? "mine" : "all", default: []].append((monotonicSeconds() - s) * 1000)
        }
        let detail = measure { sink &+= view.ticketDetail(1 + rng.below(max(1, last)), now: now)?.ticket.comments.count ?? 0 }
        report.add("client_list_p99_ms", "client's ticket list, p99", percentile(client, 0.99), "ms")
        report.add("staff_feed_p99_ms", "staff feed page of 50, p99", percentile(feed, 0.99), "ms")
        report.add("ticket_detail_p99_ms", "ticket detail, p99", percentile(detail, 0.99), "ms")
        report.add("client_list_p50_ms", "client's ticket list, p50", percentile(client, 0.5), "ms")
        for kind in ["all", "unaccepted", "mine"] {
            let l = (byKind[kind] ?? [0]).sorted()
            report.add("staff_feed_\(kind)_p50_ms", "staff feed page of 50, \(kind), p50", percentile(l, 0.5), "ms")
            report.add("staff_feed_\(kind)_p99_ms", "staff feed page of 50, \(kind), p99", percentile(l, 0.99), "ms")
        }
        let newFormula = HistoryGenerator.formulaV2.replacingOccurrences(of: "links * 20", with: "links * 25")
        let p0 = monotonicSeconds()
        let year = try view.payroll(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 12, day: 31),
                                    formula: .source(newFormula))
        report.add("payroll_year_s", "a year of payroll under a new formula (\(year.lines.map(\.evaluations).reduce(0, +)) answers)",
                   monotonicSeconds() - p0, "s")
        report.add("tickets", "tickets in the history", Double(last), "")
        report.print(json: json, context: ["checksum": String(sink)])
    }
}
