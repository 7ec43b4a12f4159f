import ArgumentParser
import DeskServer
import EventLog
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceLifecycle
import SupportDesk

struct HTTPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Drive `helpdesk serve` (started in this process on loopback) with many connections: commands, then reads.")

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Seconds per phase.") var seconds: Double = 5
    @Option(help: "Concurrent connections.") var connections: Int = 64
    @Option(help: "Port for the server.") var port: Int = 18_181
    @Option(help: "Folder for scratch data.") var dir: String?
    @Flag(help: "Drive the reads from this process even when wrk is installed.") var inProcessReads = false
    @Flag(help: "Drive the commands with HummingbirdTesting's client in this process (the old generator).") var inProcessCommands = false

    @Flag(help: "Serve every read afresh (no reuse of rendered Chronicle pages and tickets).") var noReadCache = false

    func run() async throws {
        var report = Report()
        report.jsonOnly = json
        let folder = try scratchFolder(dir)
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = ServerOptions(dataDirectory: folder.appendingPathComponent("desk"))
        options.port = port
        options.adminToken = "bench-admin"
        // No mail out: every "Fixed" answer would otherwise queue a message whose sending (and, without
        // a sendmail here, failing and retrying) runs through the reads phase. `helpdesk-bench mail`
        // measures mail.
        options.mailSender = nil
        options.readCache = !noReadCache
        let (service, _) = try await DeskService.open(options)
        let app = service.application()
        let serverTask = Task { try await app.runService() }
        defer { serverTask.cancel(); service.close() }
        let admin = "bench-admin"
        // Wait for the server, then set up an organisation and staff.
        for _ in 0..<100 {
            if (try? await Self.call(port, .get, "/health", admin)) != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        for c in [#"{"createOrganisation":{"id":"acme","name":"Acme","domains":["acme.example"]}}"#,
                  #"{"addStaff":{"id":"anna","name":"Anna","email":"anna@desk.example","role":"staff","isDeveloper":false}}"#] {
            _ = try await Self.call(port, .post, "/commands", admin, c)
        }
        let annaToken = try await Self.call(port, .post, "/tokens", admin, #"{"party":"staff:anna"}"#).body
        let anna = ((try? JSONSerialization.jsonObject(with: Data(annaToken.utf8))) as? [String: Any])?["token"] as? String ?? ""

        // Phase 1: the command mix (open, accept, comment, classify, close), each connection one
        // ticket after another. By default the load comes from `polledLoad`: two threads each waiting
        // on its share of plain sockets at once, as wrk does — far lighter than an event-loop client in this
        // process, or a blocking thread per connection.
        let commands: Int, commandLatencies: [Double], failures: Int
        var commandGenerator = "poll"
        if inProcessCommands {
            commandGenerator = "in-process"
            (commands, commandLatencies, failures) = try await phase(connections: connections, seconds: seconds) { client, i in
                var done: [Double] = []
                var failed = 0
                func timed(_ m: HTTPRequest.Method, _ uri: String, _ body: String) async throws -> String {
                    let s = monotonicSeconds()
                    let r = try await client.execute(TestClient.Request(uri, method: m, headers: [.authorization: "Bearer \(anna)", .contentType: "application/json"],
                                                                        body: ByteBuffer(string: body)))
                    done.append((monotonicSeconds() - s) * 1000)
                    if r.status.code >= 300 { failed += 1 }
                    return r.body.map { String(buffer: $0) } ?? ""
                }
                let opened = try await timed(.post, "/tickets", Self.openBody(i))
                guard let n = Self.ticketNumber(Array(opened.utf8)) else { return (done, failed + 1) }
                for (path, body) in Self.followUps(n) { _ = try await timed(.post, path, body) }
                return (done, failed)
            }
        } else {
            (commands, commandLatencies, failures) = try await polledPhase(token: anna) { c in
                // Open, then the four follow-ups on the ticket the answer names; then the next ticket.
                var i = c * 1_000_000, n = 0, next = 0
                return { last in
                    if next == 1, let last {
                        n = Self.ticketNumber(Array(last.body)) ?? 0
                        if n == 0 { next = 0 }
                    }
                    if next == 0 {
                        i += 1
                        next = 1
                        return LoadRequest(method: "POST", path: "/tickets", body: Self.openBody(i))
                    }
                    let f = Self.followUps(n)[next - 1]
                    next = next == 4 ? 0 : next + 1
                    return LoadRequest(method: "POST", path: f.path, body: f.body)
                }
            }
        }
        report.add("http_commands_per_s", "durable commands over HTTP (\(connections) connections, \(commandGenerator))", Double(commands) / seconds, "commands/s")
        report.add("http_commands_p99_ms", "command latency, p99", percentile(commandLatencies, 0.99), "ms")
        report.add("http_command_failures", "commands answered with an error (should be 0)", Double(failures), "")

        // Phase 2: reads of feed pages and ticket details, half each. With `wrk` from Debian on the
        // PATH (and not --in-process-reads) the load comes from it: a C load generator takes far less
        // of the two cores than this process's own client, so the figure is the server's.
        let last = service.view.lastTicketNumber
        var reads = 0, readLatencies: [Double] = [], readFailures = 0
        var generator = "in-process"
        if !inProcessReads, let wrk = Self.findWrk() {
            // On its own thread: waiting for wrk must not hold one of the threads that run the server.
            let (port, connections, seconds) = (port, connections, seconds)
            let r = try await withCheckedThrowingContinuation { cont in
                Thread { cont.resume(with: Result { try Self.runWrk(wrk, port: port, token: anna, last: last, connections: connections, seconds: seconds) }) }.start()
            }
            (reads, readFailures) = (r.requests, r.errors)
            readLatencies = [r.p99Ms]
            generator = "wrk"
        } else if !inProcessReads {
            // No wrk: the same generator as the commands.
            (reads, readLatencies, readFailures) = try await polledPhase(token: anna) { c in
                var i = c * 1_000_000
                return { _ in
                    i += 1
                    return LoadRequest(method: "GET", path: Self.readURI(i, last: last), body: nil)
                }
            }
            generator = commandGenerator
        } else {
            (reads, readLatencies, readFailures) = try await phase(connections: connections, seconds: seconds) { client, i in
                let s = monotonicSeconds()
                let r = try await client.execute(TestClient.Request(Self.readURI(i, last: last), method: .get, headers: [.authorization: "Bearer \(anna)"]))
                return ([(monotonicSeconds() - s) * 1000], r.status.code == 200 ? 0 : 1)
            }
        }
        report.add("http_reads_per_s", "feed pages and ticket details over HTTP (\(generator))", Double(reads) / seconds, "reads/s")
        report.add("http_reads_p99_ms", "read latency, p99", percentile(readLatencies, 0.99), "ms")
        report.add("http_read_failures", "reads answered with an error (should be 0)", Double(readFailures), "")
        report.print(json: json, context: ["tickets": String(last), "reads_generator": generator, "commands_generator": commandGenerator, "read_cache": noReadCache ? "off" : "on"])
    }

    /// The mix after opening ticket `n`: accept, answer, classify, close with an evaluation.
    static func followUps(_ n: Int) -> [(path: String, body: String)] {
        [("/tickets/\(n)/accept", "{}"),
         ("/tickets/\(n)/comments", #"{"text":"Fixed"}"#),
         ("/tickets/\(n)/classify", #"{"type":"incident","criticality":"normal"}"#),
         ("/tickets/\(n)/close", #"{"evaluation":{"kind":2,"volume":"short","links":1,"screenshots":0,"help":1}}"#)]
    }

    /// Read `i`: a feed page or a ticket detail, half each (wrk's script does the same in Lua).
    static func readURI(_ i: Int, last: Int) -> String {
        i % 2 == 0 ? "/tickets?limit=50" : "/tickets/\(1 + (i * 7919) % max(1, last))"
    }

    /// `polledLoad` waited for on a thread of its own: the server's threads must not block.
    func polledPhase(token: String, _ conversation: @escaping @Sendable (Int) -> Conversation) async throws -> (Int, [Double], Int) {
        let port = self.port, connections = self.connections, seconds = self.seconds
        return try await withCheckedThrowingContinuation { cont in
            Thread {
                cont.resume(with: Result { try polledLoad(port: port, connections: connections, seconds: seconds, token: token, conversation: conversation) })
            }.start()
        }
    }

    static func openBody(_ i: Int) -> String {
        "{\"subject\":\"Bench \(i)\",\"body\":\"x\",\"contact\":{\"email\":\"u\(i % 50)@acme.example\"}}"
    }

    /// The `"ticket":N` of a command's answer (a byte search: the generator should cost little).
    static func ticketNumber(_ body: [UInt8]) -> Int? {
        let key = Array(#""ticket":"#.utf8)
        guard body.count > key.count else { return nil }
        var i = 0
        while i + key.count <= body.count {
            if body[i] == key[0], body[i..<i + key.count].elementsEqual(key) {
                var n = 0, j = i + key.count, digits = 0
                while j < body.count, body[j] >= 0x30, body[j] <= 0x39 {
                    n = n * 10 + Int(body[j] - 0x30)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? n : nil
            }
            i += 1
        }
        return nil
    }

    static func findWrk() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/wrk"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs wrk for `seconds` with a script that alternates a feed page and a ticket detail; returns
    /// requests, non-2xx / socket errors and the p99 latency.
    static func runWrk(_ wrk: String, port: Int, token: String, last: Int, connections: Int, seconds: Double) throws
        -> (requests: Int, errors: Int, p99Ms: Double) {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("helpdesk-bench-\(getpid()).lua")
        try """
        local i = 0
        local last = 1
        init = function(args) last = tonumber(args[1]) or 1 end
        request = function()
          i = i + 1
          if i % 2 == 0 then return wrk.format("GET", "/tickets?limit=50") end
          return wrk.format("GET", "/tickets/" .. (1 + (i * 7919) % last))
        end
        done = function(summary, latency, requests)
          local e = summary.errors
          io.write(string.format("WRKJSON %d %d %d\\n", summary.requests, e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(99)))
        end
        """.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: wrk)
        p.arguments = ["-t2", "-c\(connections)", "-d\(max(1, Int(seconds.rounded())))s", "-H", "Authorization: Bearer \(token)",
                       "-s", script.path, "http://127.0.0.1:\(port)/", "--", String(max(1, last))]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("WRKJSON ") }) else {
            throw ValidationError("wrk gave no figures: \(out)")
        }
        let f = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard f.count == 3 else { throw ValidationError("wrk's figures unreadable: \(line)") }
        return (f[0], f[1], Double(f[2]) / 1000)
    }

    static func call(_ port: Int, _ m: HTTPRequest.Method, _ uri: String, _ token: String, _ body: String? = nil) async throws -> (status: Int, body: String) {
        let c = TestClient(host: "127.0.0.1", port: port)
        c.connect()
        defer { Task { try? await c.shutdown() } }
        let r = try await c.execute(TestClient.Request(uri, method: m, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                                       body: body.map { ByteBuffer(string: $0) }))
        return (Int(r.status.code), r.body.map { String(buffer: $0) } ?? "")
    }

    /// Runs `step` on `connections` connections until the time is up; returns requests, sorted latencies, failures.
    func phase(connections: Int, seconds: Double,
               _ step: @escaping @Sendable (TestClient, Int) async throws -> ([Double], Int)) async throws -> (Int, [Double], Int) {
        let deadline = monotonicSeconds() + seconds
        let port = self.port
        return try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for c in 0..<connections {
                group.addTask {
                    let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(30)))
                    client.connect()
                    var lat: [Double] = [], failed = 0, i = c * 1_000_000
                    while monotonicSeconds() < deadline {
                        i += 1
                        let (l, f) = try await step(client, i)
                        lat += l
                        failed += f
                    }
                    try? await client.shutdown()
                    return (lat, failed)
                }
            }
            var all: [Double] = [], failed = 0
            for try await (l, f) in group {
                all += l
                failed += f
            }
            return (all.count, all.sorted(), failed)
        }
    }
}
