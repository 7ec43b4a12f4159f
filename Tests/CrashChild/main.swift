import EventLog
import Foundation

// Crash-safety child: appends with many concurrent appenders and prints one line per acknowledged
// event ("ACK <sequence> <event id> <stream>"), flushed at once, until the parent SIGKILLs it.
// Usage: eventlog-crash-child DATA_DIR APPENDERS

let args = CommandLine.arguments
guard args.count >= 3, let appenders = Int(args[2]) else {
    FileHandle.standardError.write("usage: eventlog-crash-child DATA_DIR APPENDERS\n".data(using: .utf8)!)
    exit(64)
}
let store = try LMDBEventStore(directory: URL(fileURLWithPath: args[1]))

/// One write(2) per line: lines from concurrent tasks never interleave (each is far below PIPE_BUF).
func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
}

emit("READY \(store.committedHead)")
await withTaskGroup(of: Void.self) { group in
    for worker in 0..<appenders {
        group.addTask {
            var n = 0
            while true {
                n += 1
                let id = UUID()
                let stream = "crash-\(worker % 8)"
                let payload = Array("{\"worker\":\(worker),\"n\":\(n),\"id\":\"\(id)\"}".utf8)
                do {
                    let r = try await store.append(to: stream, [NewEvent(id: id, type: "CrashTest", payload: payload)])
                    emit("ACK \(r.lastSequence) \(id) \(stream)")
                } catch {
                    emit("ERR \(error)")
                }
            }
        }
    }
}
