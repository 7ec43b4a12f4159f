import EventLog
import Foundation
import Hummingbird
import Metrics
import Prometheus
import HTTPTypes
import NIOCore
import Synchronization
import SupportDesk

/// The request context: who is asking (set by `AuthMiddleware`).
public struct DeskContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// The principal, or 401. The mail gateway's token is good for `POST /mail/inbound` only.
    func require() throws -> Principal {
        guard let p = principal else { throw APIError(.unauthorized, "unauthorized", "send Authorization: Bearer <token>") }
        if case .system = p.party { throw APIError(.forbidden, "forbidden", "the mail gateway's token only posts mail to /mail/inbound") }
        return p
    }

    /// The mail gateway (its system:mail token) or an admin.
    func requireMailGateway() throws -> Principal {
        guard let p = principal else { throw APIError(.unauthorized, "unauthorized", "send Authorization: Bearer <token>") }
        if case .system("mail") = p.party { return p }
        return try requireStaff(.admin)
    }

    func requireStaff(_ minimum: Role = .auditor) throws -> Principal {
        let p = try require()
        guard let role = p.role else { throw APIError(.forbidden, "forbidden", "staff only") }
        guard role >= minimum else { throw APIError(.forbidden, "forbidden", "this needs the \(minimum.rawValue) role") }
        return p
    }
}

/// Every error leaves as `{ "error": code, "message": …, "details": … }` with a 4xx/5xx status.
public struct APIError: Error, HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var details: [String: String]?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, details: [String: String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    struct Body: Encodable { var error: String; var message: String; var details: [String: String]? }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: code, message: message, details: details))
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Maps what the desk throws to HTTP.
    static func from(_ error: any Error) -> any Error {
        switch error {
        case let e as APIError: return e
        case let e as HTTPError:
            let code = e.status == .notFound ? "not-found" : e.status.code < 500 ? "bad-request" : "internal"
            return APIError(e.status, code, e.body ?? e.status.reasonPhrase)
        case let e as DomainError:
            let status: HTTPResponse.Status = switch e.code {
            case .invalid: .unprocessableContent
            case .notFound: .notFound
            case .forbidden: .forbidden
            case .conflict, .illegalTransition: .conflict
            case .preconditionFailed: .preconditionFailed
            }
            return APIError(status, e.code.rawValue, e.message)
        case let e as DecodingError:
            return APIError(.badRequest, "bad-request", "the body does not match: \(describe(e))")
        case let e as EventLogError:
            switch e.code {
            case .wrongExpectedVersion: return APIError(.conflict, "conflict", e.message)
            case .invalidInput: return APIError(.badRequest, "bad-request", e.message)
            case .closed: return APIError(.serviceUnavailable, "unavailable", "the desk is shutting down")
            default: return APIError(.internalServerError, "internal", e.message)
            }
        case let e as ReportErrorLike:
            return APIError(.unprocessableContent, "invalid", e.message)
        default:
            return APIError(.internalServerError, "internal", "\(error)")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at '\(p)'"
        }
        switch e {
        case .keyNotFound(let k, let c): return "missing field '\(k.stringValue)'\(path(c))"
        case .typeMismatch(let t, let c): return "wrong type\(path(c)), expected \(t)"
        case .valueNotFound(let t, let c): return "missing value\(path(c)), expected \(t)"
        case .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
        @unknown default: return "\(e)"
        }
    }
}

protocol ReportErrorLike: Error { var message: String { get } }

/// Turns thrown errors into `APIError` responses and counts requests.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = DeskContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: DeskContext, next: (Request, DeskContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let r = try await next(request, context)
            metrics.record(request.method.rawValue, status: r.status.code, since: start)
            return r
        } catch let e as HTTPError where e.status == .notFound {
            // No route: 405 when the path exists with other methods, else 404.
            let path = request.uri.path
            let methods = DeskService.routes.filter { Self.matches($0.path, path) }.map { $0.method.uppercased() }
            let mapped = methods.isEmpty
                ? APIError(.notFound, "not-found", "no route \(request.method.rawValue) \(path)")
                : APIError(.methodNotAllowed, "method-not-allowed", "\(path) takes \(methods.joined(separator: ", "))",
                           details: ["allow": methods.joined(separator: ", ")])
            metrics.record(request.method.rawValue, status: mapped.status.code, since: start)
            throw mapped
        } catch let redirect as WebRedirect {
            metrics.record(request.method.rawValue, status: 303, since: start)
            return Web.redirect(redirect.location)
        } catch {
            let mapped = APIError.from(error)
            let status = (mapped as? any HTTPResponseError)?.status.code ?? 500
            metrics.record(request.method.rawValue, status: status, since: start)
            throw mapped
        }
    }
}

extension ErrorMiddleware {
    /// Whether an OpenAPI path template (`/tickets/{n}`) matches a request path.
    static func matches(_ template: String, _ path: String) -> Bool {
        let t = template.split(separator: "/"), p = path.split(separator: "/")
        guard t.count == p.count else { return false }
        return zip(t, p).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}

/// Reads `Authorization: Bearer …` and sets the principal (routes decide whether they need one).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = DeskContext
    let service: DeskService

    func handle(_ request: Request, context: DeskContext, next: (Request, DeskContext) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), let p = await service.authenticate(String(header.dropFirst(7))) else {
                throw APIError(.unauthorized, "unauthorized", "the token is unknown, revoked, or its owner has no access")
            }
            context.principal = p
        } else if request.method == .get,
                  request.uri.path == "/live" || request.uri.path.hasPrefix("/attachments/") || request.uri.path.hasPrefix("/reports/"),
                  let session = Web.sessionToken(request), let p = await service.authenticate(session) {
            // The pages' live updates (EventSource cannot send headers), attachment links and report
            // downloads (CSV) use the session cookie. Only these GETs: a cookie never authorizes a JSON command (no CSRF there).
            context.principal = p
        }
        return try await next(request, context)
    }
}

/// Request counts and latencies, commit figures and projection lag: swift-metrics instruments on a
/// Prometheus registry of this service's own (so that several services in one process, as in the
/// tests, do not share figures), exported as Prometheus text on `/metrics`.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// The instruments per method and status, made once: making them on every request (a lookup in
    /// the registry under its lock, label strings built) cost more than the counting.
    private struct Key: Hashable { let method: String, status: Int }
    private let instruments = Mutex<(counters: [Key: Metrics.Counter], timers: [String: Metrics.Timer])>(([:], [:]))

    func record(_ method: String, status: Int, since start: ContinuousClock.Instant) {
        let d = ContinuousClock.now - start
        let nanos = d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
        let key = Key(method: method, status: status)
        let (counter, timer) = instruments.withLock { i -> (Metrics.Counter, Metrics.Timer) in
            let c = i.counters[key] ?? {
                let c = Counter(label: "helpdesk_http_requests_total", dimensions: [("method", method), ("status", String(status))], factory: factory)
                i.counters[key] = c
                return c
            }()
            let t = i.timers[method] ?? {
                let t = Metrics.Timer(label: "helpdesk_http_request_duration_seconds", dimensions: [("method", method)], factory: factory)
                i.timers[method] = t
                return t
            }()
            return (c, t)
        }
        counter.increment()
        timer.recordNanoseconds(nanos)
    }

    func text(store: LMDBEventStore, projectionPosition: UInt64) -> String {
        let w = store.writerCounters
        let head = store.committedHead
        Gauge(label: "helpdesk_log_head", factory: factory).record(Double(head))
        Gauge(label: "helpdesk_commits", factory: factory).record(Double(w.commits))
        Gauge(label: "helpdesk_commit_batch_requests_mean", factory: factory).record(w.commits == 0 ? 0 : Double(w.requests) / Double(w.commits))
        Gauge(label: "helpdesk_commit_fsync_seconds_mean", factory: factory).record(w.commits == 0 ? 0 : w.commitSeconds / Double(w.commits))
        Gauge(label: "helpdesk_projection_lag_events", factory: factory).record(Double(head - min(head, projectionPosition)))
        return registry.emitToString()
    }
}

// MARK: Bodies

/// Reads a JSON body within the size limit, refusing unknown fields.
func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int, allowed: Set<String>) async throws -> T {
    let buffer: ByteBuffer
    do { buffer = try await request.body.collect(upTo: limit) } catch {
        throw APIError(.contentTooLarge, "too-large", "the body is larger than \(limit) bytes")
    }
    let data = Data(buffer: buffer)
    let text = data.isEmpty ? Data("{}".utf8) : data
    // Fast path: the object's own keys by a scan of the bytes, then one decode. Anything that does
    // not pass (odd keys, unknown fields, a decode error) goes the slow way below, which gives the
    // error answers.
    if let keys = topLevelKeys(text), keys.allSatisfy(allowed.contains), let value = try? jsonDecoder.decode(T.self, from: text) {
        return value
    }
    guard let object = try? JSONSerialization.jsonObject(with: text) else {
        throw APIError(.badRequest, "bad-request", "the body is not valid JSON")
    }
    guard let dict = object as? [String: Any] else { throw APIError(.badRequest, "bad-request", "the body must be a JSON object") }
    let unknown = Set(dict.keys).subtracting(allowed)
    guard unknown.isEmpty else {
        throw APIError(.badRequest, "unknown-fields", "unknown field(s): \(unknown.sorted().joined(separator: ", "))",
                       details: ["allowed": allowed.sorted().joined(separator: ", ")])
    }
    return try jsonDecoder.decode(T.self, from: text)
}

/// The keys of a JSON object's top level, found by scanning its bytes (nested values are skipped,
/// not checked: the decoder that follows reads them). Nil for anything but a plain object, and for
/// a key with an escape in it — the caller then takes its careful path.
func topLevelKeys(_ data: Data) -> [String]? {
    data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [String]? in
        let b = raw.bindMemory(to: UInt8.self)
        var i = 0
        let n = b.count
        func ws() { while i < n, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
        /// Skips a string starting at `i` (on its quote); false if it does not end.
        func skipString() -> Bool {
            i += 1
            while i < n {
                if b[i] == 0x5C { i += 2; continue }
                if b[i] == 0x22 { i += 1; return true }
                i += 1
            }
            return false
        }
        ws()
        guard i < n, b[i] == 0x7B else { return nil }
        i += 1
        ws()
        var keys: [String] = []
        if i < n, b[i] == 0x7D {
            i += 1
            ws()
            return i == n ? keys : nil
        }
        while true {
            ws()
            guard i < n, b[i] == 0x22 else { return nil }
            let start = i + 1
            var j = start
            while j < n, b[j] != 0x22 {
                if b[j] == 0x5C { return nil }
                j += 1
            }
            guard j < n else { return nil }
            keys.append(String(decoding: UnsafeBufferPointer(rebasing: b[start..<j]), as: UTF8.self))
            i = j + 1
            ws()
            guard i < n, b[i] == 0x3A else { return nil }
            i += 1
            ws()
            // The value: a string, a nested object or array (strings inside skipped), or a literal.
            // Every step moves on or returns, so a broken body cannot loop.
            var depth = 0, ended = false
            while i < n, !ended {
                let c = b[i]
                if c == 0x22 {
                    if !skipString() { return nil }
                } else if c == 0x7B || c == 0x5B {
                    depth += 1
                    i += 1
                } else if c == 0x7D || c == 0x5D {
                    if depth == 0 {
                        guard c == 0x7D else { return nil }
                        ended = true  // the object's own end follows the value
                    } else {
                        depth -= 1
                        i += 1
                    }
                } else if depth == 0, c == 0x2C || c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                    ended = true
                } else {
                    i += 1
                }
            }
            guard ended else { return nil }
            ws()
            guard i < n else { return nil }
            if b[i] == 0x2C { i += 1; continue }
            guard b[i] == 0x7D else { return nil }
            i += 1
            ws()
            return i == n ? keys : nil
        }
    }
}

let jsonDecoder: JSONDecoder = {
    let d = JSONDecoder()
    d.dateDecodingStrategy = .iso8601
    return d
}()

func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, etag: UInt64? = nil) throws -> Response {
    jsonResponse(bytes: try encodeJSON(value), status: status, etag: etag)
}

/// A response of JSON already rendered.
func jsonResponse(bytes: [UInt8], status: HTTPResponse.Status = .ok, etag: UInt64? = nil) -> Response {
    var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
    if let etag { headers[.eTag] = "\"\(etag)\"" }
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// The API's JSON: sorted keys (a retried command answers byte for byte the same), ISO 8601 dates,
/// slashes as they are. `FastJSON` writes it; what it does not handle goes to `JSONEncoder`, which
/// gives the same bytes (or the error).
func encodeJSON<T: Encodable>(_ value: T) throws -> [UInt8] {
    if let bytes = try? FastJSON.encode(value) { return bytes }
    return Array(try foundationEncoder().encode(value))
}

func foundationEncoder() -> JSONEncoder {
    let e = JSONEncoder()
    e.dateEncodingStrategy = .iso8601
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return e
}

func textResponse(_ text: String, contentType: String) -> Response {
    Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
}

let idempotencyKeyName = HTTPField.Name("Idempotency-Key")!

extension Request {
    /// `Idempotency-Key` (1…200 bytes).
    func idempotencyKey() throws -> String? {
        guard let k = headers[idempotencyKeyName] else { return nil }
        guard !k.isEmpty, k.utf8.count <= 200 else { throw APIError(.badRequest, "bad-request", "Idempotency-Key is 1…200 bytes") }
        return k
    }

    /// `If-Match: "N"` → N.
    func ifMatch() throws -> UInt64? {
        guard let v = headers[.ifMatch] else { return nil }
        let t = v.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/"))
        guard let n = UInt64(t) else { throw APIError(.badRequest, "bad-request", "If-Match must be an ETag this server gave, e.g. \"7\"") }
        return n
    }

    func query(_ name: String) -> String? { uri.queryParameters[Substring(name)].map(String.init) }
}
