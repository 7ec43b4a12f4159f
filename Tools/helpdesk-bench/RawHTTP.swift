import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 client over one keep-alive TCP connection, for the load generator:
/// one thread per connection, requests written and responses read with plain system calls. It costs
/// the server's two cores far less than an event-loop client in the same process, so the figures are
/// closer to what the server itself can do. Handles `Content-Length` and chunked bodies.
final class RawHTTPConnection {
    struct Failure: Error, CustomStringConvertible { let description: String }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Read into, reused (a fresh 32 KiB array per read cost the generator more than the parsing).
    private var chunk = [UInt8](repeating: 0, count: 32 * 1024)

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw Failure(description: "connect: \(errno)")
        }
        buffer.reserveCapacity(64 * 1024)
    }

    deinit { close(fd) }

    /// Sends one request and reads its response: the status and the body.
    func send(_ method: String, _ path: String, token: String, body: String? = nil) throws -> (status: Int, body: [UInt8]) {
        var request: [UInt8] = []
        request.reserveCapacity(256 + (body?.utf8.count ?? 0))
        request += method.utf8
        request.append(0x20)
        request += path.utf8
        request += " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ".utf8
        request += token.utf8
        if let body {
            request += "\r\nContent-Type: application/json\r\nContent-Length: ".utf8
            request += String(body.utf8.count).utf8
            request += "\r\n\r\n".utf8
            request += body.utf8
        } else {
            request += "\r\n\r\n".utf8
        }
        try writeAll(request)
        return try readResponse()
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "write: \(errno)")
            }
            off += n
        }
    }

    /// Reads more bytes into the buffer; throws at end of stream.
    private func fill() throws {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: n == 0 ? "connection closed" : "read: \(errno)") }
            buffer.append(contentsOf: chunk[..<n])
            return
        }
    }

    /// The bytes up to and including the next CRLF (without it).
    private func line() throws -> [UInt8] {
        while true {
            var i = start
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 {
                    let l = Array(buffer[start..<i])
                    start = i + 2
                    return l
                }
                i += 1
            }
            try fill()
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while buffer.count - start < count { try fill() }
        let out = Array(buffer[start..<start + count])
        start += count
        return out
    }

    private func readResponse() throws -> (status: Int, body: [UInt8]) {
        let statusLine = String(decoding: try line(), as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line: \(statusLine)") }
        var length: Int?
        var chunked = false
        while true {
            let l = try line()
            if l.isEmpty { break }
            let h = String(decoding: l, as: UTF8.self)
            guard let colon = h.firstIndex(of: ":") else { continue }
            let name = h[..<colon].lowercased()
            let value = h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { length = Int(value) }
            if name == "transfer-encoding" && value.lowercased().contains("chunked") { chunked = true }
        }
        if chunked {
            var body: [UInt8] = []
            while true {
                let sizeLine = String(decoding: try line(), as: UTF8.self)
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw Failure(description: "bad chunk size: \(sizeLine)")
                }
                if size == 0 {
                    while try !line().isEmpty {}  // trailers
                    return (status, body)
                }
                body += try take(size)
                _ = try line()
            }
        }
        return (status, try take(length ?? 0))
    }
}

/// Runs `connections` threads, each with its own connection, calling `step` until `seconds` pass;
/// returns requests, sorted latencies (ms) and failures.
func rawLoad(port: Int, connections: Int, seconds: Double,
             step: @escaping @Sendable (RawHTTPConnection, Int, inout [Double]) throws -> Int) throws -> (Int, [Double], Int) {
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var latencies: [Double] = []
        var failures = 0
        var errors: [String] = []
    }
    let results = Results()
    let deadline = monotonicSeconds() + seconds
    let done = DispatchGroup()
    for c in 0..<connections {
        done.enter()
        let t = Thread {
            defer { done.leave() }
            var lat: [Double] = []
            var failed = 0
            do {
                let conn = try RawHTTPConnection(port: port)
                var i = c * 1_000_000
                while monotonicSeconds() < deadline {
                    i += 1
                    failed += try step(conn, i, &lat)
                }
            } catch {
                results.lock.withLock { results.errors.append("\(error)") }
            }
            results.lock.withLock {
                results.latencies += lat
                results.failures += failed
            }
        }
        t.stackSize = 1 << 20
        t.start()
    }
    done.wait()
    if let e = results.errors.first { throw RawHTTPConnection.Failure(description: "load generator: \(e)") }
    return (results.latencies.count, results.latencies.sorted(), results.failures)
}
