import ArgumentParser
import DeskEngine
import EventLog
import Foundation
import SupportDesk

struct CommandsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commands",
        abstract: "Commands decided and durably appended: open, accept, comment, classify, close with evaluation.")

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Seconds to run.") var seconds: Double = 5
    @Option(help: "Concurrent callers.") var callers: Int = 256
    @Option(help: "Folder for scratch data (default: the working directory).") var dir: String?

    func run() async throws {
        var report = Report()
        report.jsonOnly = json
        let folder = try scratchFolder(dir)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try LMDBEventStore(directory: folder.appendingPathComponent("desk"))
        defer { store.close() }
        let processor = try CommandProcessor(store: store, clock: SystemClock())
        let generator = HistoryGenerator(.init(tickets: 0, seed: 1))
        try await generator.setUp(on: processor)
        let agents = ["pavel", "anna", "dmitry", "elena", "olga"]
        let orgs = await processor.organisations.count

        let c0 = store.writerCounters
        let head0 = store.committedHead
        let deadline = monotonicSeconds() + seconds
        let t0 = monotonicSeconds()
        let (count, refused, latencies) = try await withThrowingTaskGroup(of: (Int, Int, [Double]).self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var lat: [Double] = []
                    lat.reserveCapacity(4096)
                    var n = 0, refused = 0, i = 0
                    let agent = Party.staff(agents[caller % agents.count])
                    func timed(_ c: Command) async -> CommandOutcome? {
                        let s = monotonicSeconds()
                        defer { lat.append((monotonicSeconds() - s) * 1000); n += 1 }
                        do { return try await processor.execute(c) } catch { refused += 1; return nil }
                    }
                    while monotonicSeconds() < deadline {
                        i += 1
                        let o = (caller * 7 + i) % orgs
                        guard let opened = await timed(Command(actor: .system("mail"), .openTicket(OpenTicket(
                            channel: .email, subject: "Bench \(caller)-\(i)", body: "Не работает импорт, см. вложение.",
                            contact: .email("user0@org\(o).example", name: nil))))), let t = opened.ticket else { continue }
                        _ = await timed(Command(actor: agent, .acceptTicket(ticket: t)))
                        _ = await timed(Command(actor: agent, .comment(ticket: t, text: "Добрый день! Исправлено.", internal: false,
                                                                       notify: nil, attachments: [], channel: nil, externalId: nil)))
                        _ = await timed(Command(actor: agent, .classify(ticket: t, Classification(type: .incident, criticality: .normal))))
                        _ = await timed(Command(actor: agent, .close(ticket: t, evaluation: AnswerEvaluation(kind: 2, volume: .short, links: 1),
                                                                     reason: nil)))
                    }
                    return (n, refused, lat)
                }
            }
            var total = 0, refused = 0
            var all: [Double] = []
            for try await (n, r, l) in group {
                total += n
                refused += r
                all += l
            }
            return (total, refused, all)
        }
        let elapsed = monotonicSeconds() - t0
        let sorted = latencies.sorted()
        let c = store.writerCounters
        report.add("commands_per_s", "commands decided and durably appended (\(callers) callers)", Double(count) / elapsed, "commands/s")
        report.add("command_p50_ms", "command latency, p50", percentile(sorted, 0.5), "ms")
        report.add("command_p99_ms", "command latency, p99", percentile(sorted, 0.99), "ms")
        report.add("events_per_s", "events appended", Double(store.committedHead - head0) / elapsed, "events/s")
        report.add("refused", "commands refused (should be 0)", Double(refused), "")
        report.add("commands_per_commit", "commands per group commit", Double(c.requests - c0.requests) / Double(max(1, c.commits - c0.commits)), "")
        report.add("peak_rss_mb", "peak memory", peakRSSMegabytes(), "MB")
        report.print(json: json, context: ["durability": "durable"])
    }
}
