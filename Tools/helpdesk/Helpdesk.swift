import ArgumentParser
import EventLog
import Foundation

@main
struct HelpdeskTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "helpdesk",
        abstract: "An event-sourced help desk on LMDB.",
        subcommands: [Serve.self, Dump.self, Verify.self, Stats.self, Backup.self, Restore.self, Generate.self, Rebuild.self, Report.self, Replay.self, AuditCommand.self, MailCommand.self])
}

/// `--data DIR` for every subcommand: default `$HELPDESK_DATA`, else `./data`.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data folder (default: $HELPDESK_DATA or ./data).")
    var data: String?

    var url: URL {
        URL(fileURLWithPath: data ?? ProcessInfo.processInfo.environment["HELPDESK_DATA"] ?? "./data")
    }

    /// Opens the log read-only: works beside a running service.
    func openReadOnly() throws -> LMDBEventStore {
        try LMDBEventStore(directory: url, options: LMDBOptions(readOnly: true))
    }
}

/// Prints an error the way every subcommand reports failure, and exits non-zero.
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("helpdesk: \(message)\n".utf8))
    exit(code)
}

func describe(_ error: any Error) -> String {
    if let e = error as? EventLogError { return e.message }
    return "\(error)"
}
