import ArgumentParser
import EventLog
import Foundation

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Walk the hash chain and the indexes; exit 0 when intact.",
        discussion: "On a problem, prints the first bad sequence number and what is wrong, and exits 1. Read-only.")
    @OptionGroup var data: DataOptions
    @Flag(help: "Print the report as JSON.") var json = false

    func run() async throws {
        let report: VerifyReport
        do {
            let store = try data.openReadOnly()
            defer { store.close() }
            let tty = isatty(2) != 0
            report = try store.verify { seq in
                if tty { FileHandle.standardError.write(Data("\rchecked \(seq) events…".utf8)) }
            }
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        } catch {
            fail("verify could not read the log: \(describe(error))", code: 2)
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else if report.ok {
            print("ok: \(report.eventsChecked) events in \(report.streamsChecked) streams; hash chain and indexes intact")
        } else {
            let at = report.firstBadSequence.map { "at sequence \($0)" } ?? "in the indexes"
            print("BAD \(at): \(report.problem ?? "unknown problem") (\(report.eventsChecked) events checked before it)")
        }
        if !report.ok { throw ExitCode(1) }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Events, streams, file size, map use and readers. Read-only.")
    @OptionGroup var data: DataOptions
    @Flag(help: "Print as JSON.") var json = false

    func run() async throws {
        let s: StoreStats
        do {
            let store = try data.openReadOnly()
            defer { store.close() }
            s = try store.stats()
        } catch { fail(describe(error)) }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(s), as: UTF8.self))
            return
        }
        func mb(_ b: Int) -> String { String(format: "%.1f MiB", Double(b) / 1_048_576) }
        print("""
        data folder   \(data.url.path)
        events        \(s.events)
        streams       \(s.streams)
        file size     \(mb(Int(s.fileBytes)))
        map           \(mb(s.mapUsedBytes)) used of \(mb(s.mapBytes)) (\(String(format: "%.1f", 100 * Double(s.mapUsedBytes) / Double(max(s.mapBytes, 1))))%)
        page size     \(s.pageSize) B, events tree depth \(s.treeDepth)
        readers       \(s.readerSlotsUsed) slots used of \(s.maxReaders)
        """)
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hot, compacted copy of the log into DEST (an empty or new folder); safe while the service runs.")
    @OptionGroup var data: DataOptions
    @Argument(help: "Destination folder.") var destination: String

    func run() async throws {
        do {
            let store = try data.openReadOnly()
            defer { store.close() }
            let head = store.committedHead
            try store.backup(to: URL(fileURLWithPath: destination))
            print("backed up \(head)+ events to \(destination)/data.mdb")
        } catch { fail(describe(error)) }
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the log in the data folder with a backup, after verifying the backup.",
        discussion: "Refuses while a service (or any writer) holds the data folder.")
    @OptionGroup var data: DataOptions
    @Argument(help: "Backup folder (made by `helpdesk backup`).") var source: String

    func run() async throws {
        do {
            let report = try LMDBEventStore.restore(from: URL(fileURLWithPath: source), to: data.url)
            guard report.ok else {
                fail("the backup is damaged at sequence \(report.firstBadSequence.map(String.init) ?? "?"): \(report.problem ?? ""); nothing restored")
            }
            print("restored \(report.eventsChecked) events into \(data.url.path)")
        } catch { fail(describe(error)) }
    }
}
