import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import Mustache
import SupportDesk

/// The web pages' plumbing: the session cookie, CSRF tokens, form bodies, rendering.
///
/// A session is a token of its own (issued at sign-in with the label "web session", revoked at
/// sign-out, so it survives restarts and follows every rule of API tokens) held in the cookie
/// `hd_session` — `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` unless the service is told
/// to run without it (plain http beyond localhost). Every form carries `_csrf`, a value derived from the
/// session token that a page of another site cannot know; a POST without the right one is refused.
enum Web {
    /// The five answer kinds of the close dialog (R22), in order of difficulty and time: the
    /// evaluation stores the number, the payroll formula reads it as `kind`.
    static let answerKinds = [
        "a known answer or a link to the documentation",
        "a short explanation",
        "step-by-step instructions",
        "an investigation: reproducing the problem, reading logs",
        "a long investigation, a workaround or a fix with developers",
    ]

    static let cookieName = "hd_session"
    static let sessionLabel = "web session"

    /// The session token from the Cookie header.
    static func sessionToken(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingPrefix(while: { $0 == " " })
                if kv.hasPrefix(cookieName + "=") {
                    let v = String(kv.dropFirst(cookieName.count + 1))
                    return v.isEmpty ? nil : v
                }
            }
        }
        return nil
    }

    static func cookie(_ token: String, secure: Bool) -> String {
        "\(cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    static func expiredCookie(secure: Bool) -> String {
        "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (secure ? "; Secure" : "")
    }

    /// The CSRF value for a session: 128 bits of SHA-256 over a label and the session token.
    static func csrf(_ session: String) -> String {
        SHA256.hash(data: Data(("csrf:" + session).utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// Parses `application/x-www-form-urlencoded` (repeated names keep every value).
    static func form(_ body: ByteBuffer) -> [String: [String]] {
        var out: [String: [String]] = [:]
        let text = String(buffer: body)
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                (String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? String(s)
            }
            let name = decode(kv[0])
            out[name, default: []].append(kv.count > 1 ? decode(kv[1]) : "")
        }
        return out
    }

    /// One part of a `multipart/form-data` body.
    struct FormPart {
        var name: String
        var filename: String?
        var contentType: String?
        var data: ArraySlice<UInt8>
    }

    /// Parses `multipart/form-data` (RFC 7578): parts between `--boundary` lines, each with its
    /// Content-Disposition name (and filename, for files). Malformed parts are skipped.
    static func multipart(_ body: [UInt8], contentType: String) -> [FormPart] {
        guard let b = contentType.split(separator: ";").map({ $0.trimmingPrefix(while: { $0 == " " }) })
            .first(where: { $0.lowercased().hasPrefix("boundary=") })?.dropFirst(9) else { return [] }
        let boundary = Array(("--" + b.trimmingCharacters(in: CharacterSet(charactersIn: "\""))).utf8)
        func find(_ needle: [UInt8], from: Int) -> Int? {
            guard needle.count <= body.count else { return nil }
            var i = from
            while i + needle.count <= body.count {
                if body[i] == needle[0], body[i..<(i + needle.count)].elementsEqual(needle) { return i }
                i += 1
            }
            return nil
        }
        var parts: [FormPart] = []
        guard var start = find(boundary, from: 0) else { return [] }
        while true {
            var p = start + boundary.count
            if p + 1 < body.count, body[p] == 0x2D, body[p + 1] == 0x2D { break }  // closing delimiter
            if p + 1 < body.count, body[p] == 13, body[p + 1] == 10 { p += 2 }
            guard let next = find([13, 10] + boundary, from: p) else { break }
            if let headerEnd = find([13, 10, 13, 10], from: p), headerEnd < next {
                let headers = String(decoding: body[p..<headerEnd], as: UTF8.self)
                var name: String?, filename: String?, type: String?
                for line in headers.components(separatedBy: "\r\n") {
                    let lower = line.lowercased()
                    if lower.hasPrefix("content-disposition:") {
                        for param in line.split(separator: ";").dropFirst() {
                            let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                            guard kv.count == 2 else { continue }
                            let value = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                            if kv[0].lowercased() == "name" { name = value }
                            if kv[0].lowercased() == "filename" { filename = value }
                        }
                    } else if lower.hasPrefix("content-type:") {
                        type = line.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces)
                    }
                }
                if let name { parts.append(FormPart(name: name, filename: filename, contentType: type, data: body[(headerEnd + 4)..<next])) }
            }
            start = next + 2
        }
        return parts
    }

    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var headers: HTTPFields = [.location: location]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    static func html(_ body: String, status: HTTPResponse.Status = .ok, cookie: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                   HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:",
                                   HTTPField.Name("X-Frame-Options")!: "DENY",
                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff"]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// `23 Nov 2026, 15:45 UTC`, without a DateFormatter (making one per call was most of a page's time).
    static func time(_ d: Date) -> String {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        let p = c.dateComponents([.year, .month, .day, .hour, .minute], from: d)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String { let v = n ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        return "\(p.day ?? 1) \(months[max(0, min(11, (p.month ?? 1) - 1))]) \(p.year ?? 1970), \(two(p.hour)):\(two(p.minute)) UTC"
    }

    static func iso(_ d: Date) -> String {
        ISO8601DateFormatter().string(from: d)
    }
}

/// A page as the web layer sees the person: who they are and their form token.
struct WebSession: Sendable {
    var principal: Principal
    var token: String
    var csrf: String { Web.csrf(token) }
    var name: String
}

/// The compiled templates.
struct WebRenderer: Sendable {
    let library: MustacheLibrary

    init() {
        var lib = MustacheLibrary()
        for (name, text) in WebTemplates.all {
            do { try lib.register(text, named: name) } catch { fatalError("web template \(name) does not parse: \(error)") }
        }
        library = lib
    }

    /// Mustache treats an empty string as present: every empty string (at any depth) is dropped, so
    /// that `{{#x}}…{{/x}}` sections show only for real values and `{{^x}}` for missing ones.
    static func withoutEmpty(_ value: Any) -> Any? {
        switch value {
        case let s as String: return s.isEmpty ? nil : s
        case let d as [String: Any]:
            var out: [String: Any] = [:]
            for (k, v) in d { if let v = withoutEmpty(v) { out[k] = v } }
            return out
        case let a as [[String: Any]]: return a.compactMap { withoutEmpty($0) }
        case let a as [String]: return a.filter { !$0.isEmpty }
        default: return value
        }
    }

    /// Renders `template` with `values` inside the layout.
    func page(_ template: String, title: String, session: WebSession?, _ values: [String: Any]) -> String {
        let content = library.render(Self.withoutEmpty(values) ?? [:], withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "content": content]
        if let s = session {
            layout["signedIn"] = true
            layout["name"] = s.name
            layout["csrf"] = s.csrf
            layout["staff"] = !s.principal.isClient
            layout["client"] = s.principal.isClient
            layout["manager"] = s.principal.atLeast(.manager) || s.principal.role == .auditor
        }
        return library.render(layout, withTemplate: "layout") ?? ""
    }
}

/// What every page handler shares: the form with its CSRF check, running a command for the person,
/// the answer to a form (back to a page with a notice or an error), and rendering.
extension DeskService {
    /// A POSTed `application/x-www-form-urlencoded` form, after checking its CSRF value against the session.
    func webForm(_ req: Request, _ s: WebSession) async throws -> [String: String] {
        let f = Web.form(try await req.body.collect(upTo: 256 * 1024))
        guard f["_csrf"]?.first == s.csrf else { throw APIError(.forbidden, "csrf", "the form is stale or not from this site; reload the page") }
        return f.compactMapValues(\.first)
    }

    /// Runs a command for the signed-in person; nil when it was done, else why not, in words.
    func webRun(_ body: CommandBody, _ s: WebSession) async -> String? {
        do {
            _ = try await execute(body, as: s.principal, idempotencyKey: nil, expectedVersion: nil)
            return nil
        } catch {
            return (error as? DomainError)?.message ?? "\(error)"
        }
    }
}

extension Web {
    /// After a form: back to `path` with `?done=` (a notice) or `?error=` (why it was refused).
    static func back(_ path: String, error: String?, done: String) -> Response {
        let q = error.map { "error=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") }
            ?? "done=" + (done.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        return redirect(path + (path.contains("?") ? "&" : "?") + q)
    }
}

extension WebRenderer {
    func response(_ template: String, _ title: String, _ s: WebSession?, _ values: [String: Any],
                  status: HTTPResponse.Status = .ok) -> Response {
        Web.html(page(template, title: title, session: s, values), status: status)
    }
}
