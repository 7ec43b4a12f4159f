import ArgumentParser
import EventLog
import Foundation

@main
struct HelpdeskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "helpdesk-bench",
        abstract: "Benchmarks that print figures (run release builds: swift run -c release helpdesk-bench …).",
        subcommands: [LogBench.self, CommandsBench.self, RebuildBench.self, MemoryBench.self, QueriesBench.self, HTTPBench.self, MailBench.self, CodecBench.self])
}

/// Shared output: a table for people, one JSON object (keys name the figures) with --json.
struct Report {
    var rows: [(key: String, label: String, value: Double, unit: String)] = []

    mutating func add(_ key: String, _ label: String, _ value: Double, _ unit: String) {
        rows.append((key, label, value, unit))
        if !jsonOnly {
            FileHandle.standardError.write(Data("  \(label): \(Report.format(value)) \(unit)\n".utf8))
        }
    }

    var jsonOnly = false

    static func format(_ v: Double) -> String {
        v >= 100 ? String(format: "%.0f", v) : String(format: "%.3f", v)
    }

    func print(json: Bool, context: [String: String]) {
        if json {
            var parts = rows.map { "\"\($0.key)\":\(Report.format($0.value))" }
            for (k, v) in context.sorted(by: { $0.key < $1.key }) { parts.append("\"\(k)\":\"\(v)\"") }
            Swift.print("{" + parts.joined(separator: ",") + "}")
        } else {
            let w = (rows.map(\.label.count).max() ?? 10) + 2
            Swift.print(String(repeating: "-", count: w + 30))
            for r in rows {
                Swift.print(r.label.padding(toLength: w, withPad: " ", startingAt: 0) + Report.format(r.value) + " " + r.unit)
            }
            for (k, v) in context.sorted(by: { $0.key < $1.key }) { Swift.print("\(k): \(v)") }
        }
    }
}

func peakRSSMegabytes() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

/// The largest resident memory seen while it runs, split as /proc/self/status splits it: anonymous
/// (the heap: what the process itself holds) and file-backed (mapped files, such as the log read
/// through LMDB's map — page cache the system can take back). Sampled every 20 ms on a thread.
final class MemorySampler: @unchecked Sendable {
    private let lock = NSLock()
    private var peakAnonKB = 0, peakFileKB = 0, peakAllocated = 0, running = true
    private let allocated = allocatedBytes()
    private let done = DispatchSemaphore(value: 0)

    init() {
        Thread { [self] in
            while lock.withLock({ running }) {
                sample()
                usleep(20_000)
            }
            done.signal()
        }.start()
    }

    func sample() {
        guard let h = FileHandle(forReadingAtPath: "/proc/self/status") else { return }
        defer { try? h.close() }
        let text = String(decoding: (try? h.readToEnd()) ?? Data(), as: UTF8.self)
        func kb(_ key: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        let (anon, file) = (kb("RssAnon:"), kb("RssFile:"))
        let inUse = allocated?() ?? 0
        lock.withLock {
            peakAllocated = max(peakAllocated, inUse)
            peakAnonKB = max(peakAnonKB, anon)
            peakFileKB = max(peakFileKB, file)
        }
    }

    /// Stops sampling; the peaks in MB (`allocatedMB`: the allocator's bytes in use, 0 when it does not tell).
    func stop() -> (anonMB: Double, fileMB: Double, allocatedMB: Double) {
        lock.withLock { running = false }
        done.wait()
        sample()
        return lock.withLock { (Double(peakAnonKB) / 1024, Double(peakFileKB) / 1024, Double(peakAllocated) / 1_048_576) }
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let i = min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[i]
}

/// A scratch data folder beside the working directory (on the real disk, so fsync costs what it costs).
func scratchFolder(_ base: String?) throws -> URL {
    let root = URL(fileURLWithPath: base ?? FileManager.default.currentDirectoryPath)
    let dir = root.appendingPathComponent(".bench-data-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
