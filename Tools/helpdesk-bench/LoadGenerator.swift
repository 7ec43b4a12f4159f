import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One request of a load conversation.
struct LoadRequest {
    var method: String
    var path: String
    var body: String?
}

/// A connection's conversation: given the answer to its last request (nil before the first), its
/// next request. Each connection has its own, called only from that connection's thread.
typealias Conversation = (_ last: (status: Int, body: ArraySlice<UInt8>)?) -> LoadRequest

/// The load generator of `helpdesk-bench http`: `connections` keep-alive HTTP/1.1 connections to
/// 127.0.0.1:`port`, spread over `threads` threads, each thread waiting on all of its connections
/// at once with poll(2) (wrk does the same with epoll). Each connection has one request in flight; its answer (status and
/// `Content-Length` body) goes to its conversation, which gives the next request. A thread per
/// connection, blocking, cost the shared two cores far more in thread switches.
///
/// Runs for `seconds`; returns the requests answered, their latencies in ms (sorted) and how many
/// were answered with a status of 300 or more.
func polledLoad(port: Int, connections: Int, threads: Int = 2, seconds: Double, token: String,
                conversation: @escaping @Sendable (Int) -> Conversation) throws -> (Int, [Double], Int) {
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var latencies: [Double] = []
        var failures = 0
        var errors: [String] = []
    }
    let results = Results()
    let deadline = monotonicSeconds() + seconds
    let done = DispatchGroup()
    let threads = max(1, min(threads, connections))
    for t in 0..<threads {
        let mine = Array(stride(from: t, to: connections, by: threads))
        done.enter()
        Thread {
            defer { done.leave() }
            do {
                let (lat, failed) = try LoadThread(port: port, token: token, connections: mine, conversation: conversation).run(until: deadline)
                results.lock.withLock {
                    results.latencies += lat
                    results.failures += failed
                }
            } catch {
                results.lock.withLock { results.errors.append("\(error)") }
            }
        }.start()
    }
    done.wait()
    if let e = results.errors.first { throw LoadFailure(description: "load generator: \(e)") }
    return (results.latencies.count, results.latencies.sorted(), results.failures)
}

struct LoadFailure: Error, CustomStringConvertible { let description: String }

/// One thread's connections, waited on with poll(2).
private final class LoadThread {
    final class Connection {
        let fd: Int32
        let talk: Conversation
        var buffer: [UInt8] = []
        var sentAt = 0.0
        init(fd: Int32, talk: @escaping Conversation) {
            self.fd = fd
            self.talk = talk
            buffer.reserveCapacity(64 * 1024)
        }
        deinit { close(fd) }
    }

    let token: String
    var connections: [Connection] = []
    var polled: [pollfd] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(port: Int, token: String, connections indices: [Int], conversation: (Int) -> Conversation) throws {
        self.token = token
        for c in indices {
            let fd = try Self.connect(port: port)
            connections.append(Connection(fd: fd, talk: conversation(c)))
            polled.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        }
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoadFailure(description: "socket: \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw LoadFailure(description: "connect: \(errno)")
        }
        return fd
    }

    func run(until deadline: Double) throws -> ([Double], Int) {
        var latencies: [Double] = []
        var failed = 0
        for c in connections { try send(c, c.talk(nil)) }
        while monotonicSeconds() < deadline {
            let n = polled.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), 100) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LoadFailure(description: "poll: \(errno)")
            }
            for k in polled.indices where polled[k].revents != 0 {
                let c = connections[k]
                try receive(c)
                while let (status, body, used) = try Self.response(in: c.buffer) {
                    latencies.append((monotonicSeconds() - c.sentAt) * 1000)
                    if status >= 300 { failed += 1 }
                    let next = c.talk((status, body))
                    c.buffer.removeFirst(used)
                    if monotonicSeconds() < deadline { try send(c, next) }
                }
            }
        }
        return (latencies, failed)
    }

    func send(_ c: Connection, _ r: LoadRequest) throws {
        var request: [UInt8] = []
        request.reserveCapacity(256 + (r.body?.utf8.count ?? 0))
        request += r.method.utf8
        request.append(0x20)
        request += r.path.utf8
        request += " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ".utf8
        request += token.utf8
        if let body = r.body {
            request += "\r\nContent-Type: application/json\r\nContent-Length: ".utf8
            request += String(body.utf8.count).utf8
            request += "\r\n\r\n".utf8
            request += body.utf8
        } else {
            request += "\r\n\r\n".utf8
        }
        c.sentAt = monotonicSeconds()
        // Requests are small: the socket's send buffer takes them whole (blocking socket).
        var off = 0
        while off < request.count {
            let n = request[off...].withUnsafeBytes { write(c.fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LoadFailure(description: "write: \(errno)")
            }
            off += n
        }
    }

    /// Reads what the socket has (poll said it has something).
    func receive(_ c: Connection) throws {
        let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            throw LoadFailure(description: "read: \(errno)")
        }
        guard n > 0 else { throw LoadFailure(description: "the server closed a connection") }
        c.buffer.append(contentsOf: chunk[..<n])
    }

    /// The first whole response in `buffer`: its status, body and length; nil while incomplete.
    /// Only `Content-Length` bodies (the service's JSON answers); chunked ones are refused. Read
    /// as bytes: the generator shares the cores with the server, so it should cost little.
    static func response(in buffer: [UInt8]) throws -> (Int, ArraySlice<UInt8>, Int)? {
        guard let end = headerEnd(buffer) else { return nil }
        // "HTTP/1.1 200 OK"
        guard end >= 12, buffer[8] == 0x20, let status = digits(buffer[9..<12]) else {
            throw LoadFailure(description: "bad status line: \(String(decoding: buffer.prefix(40), as: UTF8.self))")
        }
        var length = 0
        var line = 0
        while line < end {
            var next = line
            while next < end, buffer[next] != 13 { next += 1 }
            if starts(buffer, at: line, upTo: next, with: contentLength) {
                length = digits(buffer[(line + contentLength.count)..<next].drop { $0 == 0x20 }) ?? 0
            } else if starts(buffer, at: line, upTo: next, with: transferEncoding) {
                throw LoadFailure(description: "a Transfer-Encoding answer is not read by this generator")
            }
            line = next + 2
        }
        let bodyStart = end + 4
        guard buffer.count >= bodyStart + length else { return nil }
        return (status, buffer[bodyStart..<bodyStart + length], bodyStart + length)
    }

    static let contentLength = Array("content-length:".utf8)
    static let transferEncoding = Array("transfer-encoding:".utf8)

    /// Whether the line `buffer[start..<end]` starts with `prefix` (lower-case), ignoring case.
    static func starts(_ buffer: [UInt8], at start: Int, upTo end: Int, with prefix: [UInt8]) -> Bool {
        guard end - start >= prefix.count else { return false }
        for k in prefix.indices where buffer[start + k] | 0x20 != prefix[k] | 0x20 { return false }
        return true
    }

    static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        var n = 0
        for b in bytes {
            guard b >= 0x30, b <= 0x39 else { return bytes.isEmpty ? nil : n }
            n = n * 10 + Int(b - 0x30)
        }
        return bytes.isEmpty ? nil : n
    }

    /// Where the blank line after the headers starts.
    static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }
}
