import ArgumentParser
import DeskEngine
import EventLog
import Foundation
import MailDesk
import SupportDesk
#if canImport(Glibc)
import Glibc
#endif

/// sysexits(3) codes, as MTAs expect from a pipe program.
enum SysExit {
    static let ok: Int32 = 0
    static let usage: Int32 = 64
    static let dataErr: Int32 = 65  // the message can never be accepted
    static let tempFail: Int32 = 75  // try again later (the MTA keeps the message and retries)
}

struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "The e-mail channel: take mail in from an MTA or a Maildir.",
        subcommands: [Ingest.self, Import.self])

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read one RFC 5322 message on standard input and hand it to the running service (an MTA pipe alias).",
            discussion: """
            For /etc/aliases:  support: "|/usr/local/bin/helpdesk mail ingest --url http://127.0.0.1:8080 --token TOKEN"
            The token belongs to the mail gateway: an admin issues it with POST /tokens {"party": "system:mail"}.
            Exit codes follow sysexits: 0 accepted (or already received), 65 the message can never be accepted \
            (the reason on stderr: the MTA bounces it), 75 temporary failure (service down, busy, or refusing the \
            token): the MTA keeps the message and retries.
            """)
        @Option(help: "The service's base URL (http only; default $HELPDESK_URL or http://127.0.0.1:8080).") var url: String?
        @Option(help: "The mail gateway's token (default $HELPDESK_MAIL_TOKEN).") var token: String?
        @Option(help: "Seconds to wait for the service.") var timeout: Int = 120

        func run() async throws {
            let env = ProcessInfo.processInfo.environment
            guard let token = token ?? env["HELPDESK_MAIL_TOKEN"] else { fail("give --token (or HELPDESK_MAIL_TOKEN)", code: SysExit.usage) }
            let base = url ?? env["HELPDESK_URL"] ?? "http://127.0.0.1:8080"
            let message = Array(FileHandle.standardInput.readDataToEndOfFile())
            let code = post(message, base: base, token: token, timeout: timeout, quiet: false)
            Glibc.exit(code)
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take every unread message of a Maildir (new/ and unseen cur/) into the desk.",
            discussion: """
            With --url and --token the messages go to the running service; otherwise the data folder is \
            opened directly (stop the service first). Each accepted message (or one already received) is \
            moved to cur/ and flagged seen; a message that can never be accepted stays where it is and is \
            reported; one bad message never stops the rest. Exit status 0 when every message was taken, 65 \
            when some were refused, 75 when the service could not be reached.
            """)
        @OptionGroup var data: DataOptions
        @Argument(help: "The Maildir (with new/ and cur/).") var maildir: String
        @Option(help: "Send to the running service at this URL instead of opening the data folder.") var url: String?
        @Option(help: "The mail gateway's token (with --url; default $HELPDESK_MAIL_TOKEN).") var token: String?

        func run() async throws {
            let fm = FileManager.default
            let root = URL(fileURLWithPath: maildir)
            var files: [URL] = []
            for sub in ["new", "cur"] {
                let dir = root.appendingPathComponent(sub)
                guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else { continue }
                for n in names.sorted() where !n.hasPrefix(".") {
                    if sub == "cur", let flags = n.split(separator: ",").last, n.contains(":2,"), flags.contains("S") { continue }
                    files.append(dir.appendingPathComponent(n))
                }
            }
            guard fm.fileExists(atPath: root.appendingPathComponent("new").path) || fm.fileExists(atPath: root.appendingPathComponent("cur").path) else {
                fail("\(maildir) is not a Maildir (no new/ or cur/)", code: SysExit.usage)
            }
            var counts: [String: Int] = [:]
            var refused = 0, unreachable = 0
            func markSeen(_ file: URL) {
                let name = file.lastPathComponent
                let base = name.components(separatedBy: ":2,").first ?? name
                let flags = name.contains(":2,") ? String(name.components(separatedBy: ":2,").last ?? "") : ""
                let target = root.appendingPathComponent("cur").appendingPathComponent(base + ":2," + String(Set(flags + "S").sorted()))
                try? fm.createDirectory(at: root.appendingPathComponent("cur"), withIntermediateDirectories: true)
                try? fm.moveItem(at: file, to: target)
            }
            if let url {
                let env = ProcessInfo.processInfo.environment
                guard let token = token ?? env["HELPDESK_MAIL_TOKEN"] else { fail("give --token with --url", code: SysExit.usage) }
                for f in files {
                    guard let bytes = fm.contents(atPath: f.path) else { continue }
                    switch post(Array(bytes), base: url, token: token, timeout: 120, quiet: true, label: f.lastPathComponent) {
                    case SysExit.ok: counts["taken", default: 0] += 1; markSeen(f)
                    case SysExit.dataErr: refused += 1
                    default: unreachable += 1
                    }
                    if unreachable > 0 { break }
                }
            } else {
                let store = try LMDBEventStore(directory: data.url)
                defer { store.close() }
                let processor = try CommandProcessor(store: store)
                guard await processor.account.created else { fail("no help desk in \(data.url.path) (run `helpdesk serve` once first)") }
                let blobs = try BlobStore(root: data.url.appendingPathComponent("blobs"))
                let secret = try MailThreadToken.loadOrCreateSecret(at: data.url.appendingPathComponent("mail-secret"))
                let intake = MailIntake(processor: processor, blobs: blobs, token: MailThreadToken(secret: secret, domain: "helpdesk.local"))
                for f in files {
                    guard let bytes = fm.contents(atPath: f.path) else { continue }
                    do {
                        let (r, _) = try await intake.receive(Array(bytes))
                        counts[r.disposition, default: 0] += 1
                        markSeen(f)
                    } catch {
                        if error.permanent { refused += 1 } else { unreachable += 1 }
                        FileHandle.standardError.write(Data("\(f.lastPathComponent): \(error.message)\n".utf8))
                    }
                }
            }
            let summary = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("\(files.count) messages: \(summary.isEmpty ? "none taken" : summary)\(refused > 0 ? ", \(refused) refused" : "")\(unreachable > 0 ? ", \(unreachable) not delivered (try again)" : "")")
            if unreachable > 0 { throw ExitCode(SysExit.tempFail) }
            if refused > 0 { throw ExitCode(SysExit.dataErr) }
        }
    }
}

/// Posts one raw message to `base`/mail/inbound; returns the sysexits code and reports on stderr.
func post(_ message: [UInt8], base: String, token: String, timeout: Int, quiet: Bool, label: String? = nil) -> Int32 {
    func say(_ s: String) { FileHandle.standardError.write(Data(((label.map { "\($0): " } ?? "") + s + "\n").utf8)) }
    let response: (status: Int, body: String)
    do {
        response = try HTTPPost.send(url: base.hasSuffix("/") ? base + "mail/inbound" : base + "/mail/inbound",
                                     headers: ["Authorization": "Bearer \(token)", "Content-Type": "message/rfc822"],
                                     body: message, timeout: timeout)
    } catch let e as HTTPPost.Failure where e.usage {
        say(e.message)
        return SysExit.usage
    } catch {
        say("the help desk is not reachable: \(error); the MTA will retry")
        return SysExit.tempFail
    }
    switch response.status {
    case 200..<300:
        if !quiet { print(response.body) }
        return SysExit.ok
    case 400, 413, 415, 422:
        say("refused: \(response.body)")
        return SysExit.dataErr
    default:
        say("the help desk answered \(response.status): \(response.body); the MTA will retry")
        return SysExit.tempFail
    }
}

/// A minimal blocking HTTP/1.1 POST over a socket (plain http, for the local service; the one place
/// the tool talks HTTP, so no client library is pulled in).
enum HTTPPost {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var usage = false
        var description: String { message }
    }

    static func send(url: String, headers: [String: String], body: [UInt8], timeout: Int) throws -> (status: Int, body: String) {
        guard url.hasPrefix("http://") else { throw Failure(message: "only http:// URLs are supported (run the gateway beside the service)", usage: true) }
        let rest = url.dropFirst(7)
        let hostPort = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(hostPort.count)
        var host = String(hostPort), port = "80"
        if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            port = String(hostPort[hostPort.index(after: colon)...])
        }
        guard !host.isEmpty, Int(port) != nil else { throw Failure(message: "bad URL \(url)", usage: true) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &res) == 0, let first = res else { throw Failure(message: "cannot resolve \(host)") }
        defer { freeaddrinfo(res) }
        var fd: Int32 = -1
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                var tv = timeval(tv_sec: timeout, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { break }
                close(fd)
                fd = -1
            }
            ai = a.pointee.ai_next
        }
        guard fd >= 0 else { throw Failure(message: "connection to \(host):\(port) refused") }
        defer { close(fd) }
        var head = "POST \(path.isEmpty ? "/" : String(path)) HTTP/1.1\r\nHost: \(hostPort)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        func writeAll(_ bytes: [UInt8]) throws {
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
                if n < 0 { if errno == EINTR { continue }; throw Failure(message: "sending failed: errno \(errno)") }
                done += n
            }
        }
        try writeAll(Array(head.utf8))
        try writeAll(body)
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { if errno == EINTR { continue }; throw Failure(message: "no answer within \(timeout) s") }
            if n == 0 { break }
            response.append(contentsOf: buffer[0..<n])
        }
        guard let split = response.indices.dropLast(3).first(where: { response[$0] == 13 && response[$0 + 1] == 10 && response[$0 + 2] == 13 && response[$0 + 3] == 10 }) else {
            throw Failure(message: "the answer was not HTTP")
        }
        let headText = String(decoding: response[..<split], as: UTF8.self)
        let statusLine = headText.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(message: "the answer was not HTTP") }
        var bodyBytes = Array(response[(split + 4)...])
        if headText.lowercased().contains("transfer-encoding: chunked") { bodyBytes = dechunk(bodyBytes) }
        return (status, String(decoding: bodyBytes, as: UTF8.self))
    }

    static func dechunk(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while i < b.count {
            guard let eol = b[i...].indices.dropLast().first(where: { b[$0] == 13 && b[$0 + 1] == 10 }),
                  let size = Int(String(decoding: b[i..<eol], as: UTF8.self).split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = eol + 2
            out.append(contentsOf: b[start..<min(b.count, start + size)])
            i = start + size + 2
        }
        return out
    }
}
