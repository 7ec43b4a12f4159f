import DeskServer
import EventLog
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SupportDesk
import Synchronization
import Testing

func productsDirectory() -> URL {
    URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]).deletingLastPathComponent()
}

@Suite("helpdesk serve as a process")
struct SigtermTests {
    /// Sends one request on a fresh connection; nil when the server does not answer.
    static func request(_ port: Int, _ method: HTTPRequest.Method, _ uri: String, token: String, body: String? = nil) async -> (Int, String)? {
        let c = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(5)))
        c.connect()
        defer { Task { try? await c.shutdown() } }
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if body != nil { headers[.contentType] = "application/json" }
        guard let r = try? await c.execute(TestClient.Request(uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }))
        else { return nil }
        return (Int(r.status.code), r.body.map { String(buffer: $0) } ?? "")
    }

    @Test("SIGTERM under load: the server finishes in-flight commands, exits 0, and loses nothing it acknowledged")
    func sigtermUnderLoad() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sigterm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = Int.random(in: 20_000..<40_000)
        let token = "sigterm-admin"
        let p = Process()
        p.executableURL = productsDirectory().appendingPathComponent("helpdesk")
        p.arguments = ["serve", "--data", dir.path, "--port", String(port), "--admin-token", token]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for it to answer.
        var up = false
        for _ in 0..<200 where !up {
            up = await Self.request(port, .get, "/me", token: token)?.0 == 200
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(up, "the server did not come up")
        guard up else { p.terminate(); return }
        #expect(await Self.request(port, .post, "/commands", token: token,
                                   body: #"{"createOrganisation":{"id":"acme","name":"Acme","domains":["acme.example"]}}"#)?.0 == 200)

        // 16 clients open tickets as fast as they can; each keeps the numbers acknowledged (201).
        final class Shared: Sendable {
            let acknowledged = Mutex<[Int]>([])
            let stop = Atomic<Bool>(false)
        }
        let shared = Shared()
        let pid = p.processIdentifier
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<16 {
                group.addTask {
                    var i = 0
                    while !shared.stop.load(ordering: .relaxed) {
                        i += 1
                        guard let (status, body) = await Self.request(port, .post, "/tickets", token: token,
                            body: "{\"subject\":\"load \(client)-\(i)\",\"body\":\"x\",\"contact\":{\"email\":\"u\(client)@acme.example\"}}")
                        else { return }  // the server has gone
                        if status == 201, let n = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["ticket"] as? Int {
                            shared.acknowledged.withLock { $0.append(n) }
                        } else if status != 503 {
                            return
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(1500))
                kill(pid, SIGTERM)
                // Until the process is gone (at most 10 s), then stop the clients.
                for _ in 0..<200 where kill(pid, 0) == 0 { try await Task.sleep(for: .milliseconds(50)) }
                shared.stop.store(true, ordering: .relaxed)
            }
            try await group.next()
            // Wait for the clients to notice the server is gone (bounded by the 10 s above).
            try await group.waitForAll()
        }
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "exit status \(p.terminationStatus)")

        let acked = shared.acknowledged.withLock { $0 }
        #expect(acked.count >= 5, "too little load: \(acked.count) tickets")
        let store = try LMDBEventStore(directory: dir, options: LMDBOptions(readOnly: true))
        defer { store.close() }
        for n in acked {
            let events = try store.readStream(Streams.ticket(n))
            #expect(events.first?.type == "TicketOpened", "acknowledged ticket #\(n) is missing")
        }
        #expect(try store.verify().ok)
    }
}
