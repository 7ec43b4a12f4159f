import ArgumentParser
import DeskEngine
import EventLog
import Foundation
import SupportDesk

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic, realistic synthetic history into an empty data folder.",
        discussion: """
        Runs real commands through the command processor: an account with staff, calendars, SLA tiers, an \
        escalation rule and payroll formulas; organisations, contacts and tickets through their whole life. \
        The same --seed and --tickets give the same history. Refuses a folder that already has an account.
        """)
    @OptionGroup var data: DataOptions
    @Option(help: "How many tickets to open.") var tickets: Int = 1000
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Tickets per simulated day.") var perDay: Int = 60

    func run() async throws {
        guard tickets >= 0, tickets <= 10_000_000 else { fail("--tickets must be 0…10000000") }
        let store: LMDBEventStore
        do { store = try LMDBEventStore(directory: data.url) } catch { fail(describe(error)) }
        defer { store.close() }
        let processor = try CommandProcessor(store: store)
        if await processor.account.created {
            fail("\(data.url.path) already holds a desk (account '\(await processor.account.name)'); generate into an empty folder")
        }
        var options = HistoryGenerator.Options(tickets: tickets, seed: seed)
        options.ticketsPerDay = max(1, perDay)
        let progress = Progress(label: "generating")
        let t0 = Date()
        let summary = try await HistoryGenerator(options).run(on: processor) { done, total in progress.update(done, total) }
        progress.finish()
        let secs = Date().timeIntervalSince(t0)
        print("generated \(summary.ticketsOpened) tickets with \(summary.commands) commands (\(summary.escalations) escalations, "
              + "\(summary.refused) refused) in \(String(format: "%.1f", secs)) s; log head \(store.committedHead)")
        for r in summary.firstRefusals { print("  refused: \(r)") }
    }
}

/// A progress line with ETA on a terminal; plain lines every 10% otherwise.
final class Progress: @unchecked Sendable {
    let label: String
    let tty = isatty(2) != 0
    let start = Date()
    var lastTenth = -1
    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        guard total > 0 else { return }
        let fraction = Double(done) / Double(total)
        let elapsed = Date().timeIntervalSince(start)
        let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
        if tty {
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r%@ [%@] %3.0f%% %d/%d ETA %.0fs ", label, bar,
                                                       fraction * 100, done, total, eta).utf8))
        } else if Int(fraction * 10) > lastTenth {
            lastTenth = Int(fraction * 10)
            FileHandle.standardError.write(Data(String(format: "%@: %d/%d (%.0f%%), ETA %.0fs\n", label, done, total, fraction * 100, eta).utf8))
        }
    }

    func finish() {
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
