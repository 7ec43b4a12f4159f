import EventLog
import Foundation

/// The two implementations the behavioural suite runs against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, lmdb
    var testDescription: String { rawValue }
}

import Testing

/// A store of the given kind in a fresh temporary folder, closed and removed after `body`.
func withStore<T>(_ kind: StoreKind, options: LMDBOptions = LMDBOptions(),
                  _ body: (any EventStore) async throws -> T) async throws -> T {
    switch kind {
    case .memory:
        let s = MemoryEventStore()
        defer { s.close() }
        return try await body(s)
    case .lmdb:
        let dir = try TempDir()
        let s = try LMDBEventStore(directory: dir.url, options: options)
        defer { s.close() }
        return try await body(s)
    }
}

/// A temporary directory removed when the value is deinitialised.
final class TempDir: @unchecked Sendable {
    let url: URL
    init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("eventlog-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

func event(_ type: String = "Something", _ text: String = "payload", id: UUID = UUID(),
           at: Date? = nil, actor: String? = nil) -> NewEvent {
    NewEvent(id: id, type: type, timestamp: at, metadata: EventMetadata(actor: actor, correlationId: "corr-1"),
             payload: Array(text.utf8))
}

func text(_ r: RecordedEvent) -> String { String(decoding: r.payload, as: UTF8.self) }

/// Catches an `EventLogError` (fails the test if something else, or nothing, is thrown).
func logError(_ body: () async throws -> Void) async -> EventLogError? {
    do {
        try await body()
        Issue.record("expected an EventLogError, nothing was thrown")
        return nil
    } catch let e as EventLogError {
        return e
    } catch {
        Issue.record("expected an EventLogError, got \(error)")
        return nil
    }
}

/// The folder holding this test run's built products (the test bundle sits beside the executables).
func productsDirectory() -> URL {
    URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]).deletingLastPathComponent()
}

/// Runs one of the package's executables and returns its exit status, stdout and stderr.
func runTool(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = productsDirectory().appendingPathComponent(name)
    p.arguments = arguments
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
    let errData = ResultHolder()
    let t = Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
    t.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while errData.data == nil { usleep(1000) }
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.data ?? Data(), as: UTF8.self))
}

final class ResultHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var _data: Data?
    var data: Data? {
        get { lock.withLock { _data } }
        set { lock.withLock { _data = newValue } }
    }
}
