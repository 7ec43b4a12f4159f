import Crypto
import DeskEngine
import Foundation
import Mail
import SupportDesk

/// Limits for incoming mail.
public struct MailLimits: Sendable {
    /// A larger message is refused as a whole (HTTP 413, `mail ingest` exit 65).
    public var maxMessageBytes = 50 << 20
    /// A larger attachment is left out (the message is kept, with a note in its text; the raw message
    /// still holds it).
    public var maxAttachmentBytes = 25 << 20
    /// Raw messages up to this size are kept in the LMDB side database `mail.raw`, written in the same
    /// transaction as their `MailReceived` event (no file, no extra fsync); larger ones in the blob store.
    public var inlineRawBytes = 1 << 20
    public init() {}
}

/// What became of one incoming message.
public struct MailIntakeResult: Sendable, Codable, Hashable {
    /// `new` (opened a ticket), `token` / `reference` / `subject` (added to a ticket by that thread
    /// match), `set-aside` (recorded only), or `duplicate` (already received: nothing written).
    public var disposition: String
    public var ticket: Int?
    public var comment: Int?
    public var contact: String?
    public var messageId: String
    /// SHA-256 of the raw message in the blob store.
    public var raw: String
    public var notes: [String]
}

/// Why a message was not taken. `permanent` ones will never be accepted (bad or oversize input:
/// HTTP 4xx, sysexits 65); the others may succeed later (HTTP 503, sysexits 75: the MTA retries).
public struct MailIntakeError: Error, CustomStringConvertible {
    public var permanent: Bool
    public var tooLarge = false
    public var message: String
    public var description: String { message }
}

/// Takes raw RFC 5322 messages into the desk: keeps the raw message and its attachments in the blob
/// store, parses it, finds its thread, and runs `receiveMail`. The same Message-ID twice becomes one
/// comment: a message already recorded is answered as a duplicate and writes nothing.
///
/// Threading, in order: our signed token in In-Reply-To / References (any sender: a CC'd colleague,
/// the client from a new address); a Message-ID already recorded on a ticket (a reply-all to the
/// client's own message); a `[#N]` in the subject (the desk accepts it only from someone who takes part
/// in ticket N or belongs to its organisation); otherwise a new ticket.
public struct MailIntake: Sendable {
    public let processor: CommandProcessor
    public let blobs: BlobStore
    public let token: MailThreadToken
    public let limits: MailLimits
    /// The desk's own sending address (mail from it coming back is set aside).
    public let ownAddress: String?
    public let actor: Party

    public init(processor: CommandProcessor, blobs: BlobStore, token: MailThreadToken, limits: MailLimits = MailLimits(),
                ownAddress: String? = nil, actor: Party = .system("mail")) {
        self.processor = processor
        self.blobs = blobs
        self.token = token
        self.limits = limits
        self.ownAddress = ownAddress.map { $0.lowercased() }
        self.actor = actor
    }

    public func receive(_ raw: [UInt8]) async throws(MailIntakeError) -> (MailIntakeResult, CommandOutcome?) {
        guard raw.count <= limits.maxMessageBytes else {
            throw MailIntakeError(permanent: true, tooLarge: true,
                                  message: "the message is \(raw.count) bytes; the limit is \(limits.maxMessageBytes)")
        }
        guard !raw.isEmpty else { throw MailIntakeError(permanent: true, message: "the message is empty") }
        let rawSha: String
        var filesWritten = false
        var alsoWrite: [SideWrite] = []
        if raw.count <= limits.inlineRawBytes {
            rawSha = hex(SHA256.hash(data: raw))
            alsoWrite.append(SideWrite(database: Self.rawDB, key: Array(rawSha.utf8), value: raw))
        } else {
            do { rawSha = try blobs.put(raw, durable: false).sha256 } catch {
                throw MailIntakeError(permanent: false, message: "cannot store the raw message: \(error)")
            }
            filesWritten = true
        }
        let m = MailMessage.parse(raw)
        var notes = m.problems
        var messageId = Self.recorded(m.messageId.map(trimmed) ?? "")
        if messageId.isEmpty {
            messageId = "raw.\(rawSha)@helpdesk.invalid"
            notes.append("no Message-ID: named after the raw message's hash")
        }
        var result = MailIntakeResult(disposition: "duplicate", ticket: nil, comment: nil, contact: nil,
                                      messageId: messageId, raw: rawSha, notes: notes)
        if let known = try? processor.mailTicket(messageId: messageId) {
            result.ticket = known == 0 ? nil : known
            return (result, nil)
        }
        guard let sender = (m.from.first ?? m.replyTo.first) else {
            throw MailIntakeError(permanent: true, message: "the message has no From address")
        }

        // Attachments, streamed into the blob store one piece at a time.
        var refs: [AttachmentRef] = []
        for (i, a) in m.attachments.enumerated() {
            let name = a.filename.flatMap { $0.isEmpty ? nil : String($0.prefix(255)) } ?? "attachment-\(i + 1)"
            do {
                let (sha, size) = try blobs.write(limit: limits.maxAttachmentBytes, durable: false) { sink in try a.decode(into: sink) }
                filesWritten = true
                refs.append(AttachmentRef(sha256: sha, filename: name, contentType: a.contentType, size: size))
            } catch BlobStore.BlobError.tooLarge(let limit) {
                notes.append("attachment \(name) is over the limit of \(limit) bytes and was left out (the raw message keeps it)")
            } catch {
                throw MailIntakeError(permanent: false, message: "cannot store attachment \(name): \(error)")
            }
        }

        // Thread: our signed token first, then any Message-ID already on a ticket.
        var thread: Int?, via: String?
        let referenced = m.inReplyTo + m.references.reversed()
        for id in referenced {
            if let (t, _) = token.verify(id) { thread = t; via = "token"; break }
        }
        if thread == nil {
            for id in referenced {
                if let t = try? processor.mailTicket(messageId: Self.recorded(id)), t > 0 { thread = t; via = "reference"; break }
            }
        }
        let automatic = automaticReason(m, sender: sender)
        // A reply is its new part; a new ticket keeps the whole text (the desk picks, as only it knows
        // whether a subject's [#N] is accepted).
        let newText = trimmed(m.newText), wholeText = trimmed(m.text)
        var text = (thread != nil || subjectTicket(m.subject) != nil) && !newText.isEmpty ? newText : wholeText
        func cut(_ t: String) -> String {
            t.utf8.count > Desk.maxTextLength && t.count > Desk.maxTextLength ? String(t.prefix(Desk.maxTextLength - 100)) + "\n[… cut: the whole message is kept as \(rawSha)]" : t
        }
        text = cut(text)
        let leftOut = notes.filter { $0.contains("left out") }.map { "[\($0)]" }.joined(separator: "\n")
        if !leftOut.isEmpty { text += "\n\n" + leftOut }
        var whole: String? = nil
        if text != cut(wholeText) && !leftOut.isEmpty { whole = cut(wholeText) + "\n\n" + leftOut }
        else if text != cut(wholeText) { whole = cut(wholeText) }
        let mail = InboundMail(messageId: messageId, from: sender.address, fromName: sender.name,
                               subject: String(m.subject.prefix(Desk.maxSubjectLength)), text: text, attachments: refs,
                               raw: rawSha, automatic: automatic, thread: thread, threadVia: via,
                               subjectTicket: subjectTicket(m.subject), language: language(of: m.text), wholeText: whole)
        // The raw message and its attachments are durable before anything refers to them.
        if filesWritten {
            do { try await blobs.sync() } catch {
                throw MailIntakeError(permanent: false, message: "cannot make the message durable: \(error)")
            }
        }
        let command = Command(id: "mail:" + String(hex(SHA256.hash(data: Data(messageId.utf8))).prefix(40)), actor: actor,
                              .receiveMail(mail))
        do {
            let outcome = try await processor.execute(command, alsoWrite: alsoWrite)
            result.contact = outcome.contact
            if automatic != nil || outcome.ticket == nil {
                result.disposition = "set-aside"
                let known = try? processor.mailTicket(messageId: messageId)
                result.ticket = known.flatMap { $0 == 0 ? nil : $0 }
            } else if let c = outcome.comment {
                result.disposition = via ?? "subject"
                result.ticket = outcome.ticket
                result.comment = c
            } else {
                result.disposition = "new"
                result.ticket = outcome.ticket
                result.comment = 1
            }
            result.notes = notes + (automatic.map { [$0] } ?? [])
            return (result, outcome)
        } catch let e as DomainError {
            switch e.code {
            case .invalid, .notFound, .forbidden, .illegalTransition:
                throw MailIntakeError(permanent: true, message: e.message)
            case .conflict:
                // The same Message-ID raced in twice: the other delivery won.
                if let known = try? processor.mailTicket(messageId: messageId) {
                    result.ticket = known == 0 ? nil : known
                    return (result, nil)
                }
                throw MailIntakeError(permanent: false, message: e.message)
            case .preconditionFailed:
                throw MailIntakeError(permanent: false, message: e.message)
            }
        } catch {
            throw MailIntakeError(permanent: false, message: "the desk could not record the message: \(error)")
        }
    }

    /// The Message-ID as recorded: ids over 400 bytes are named after their hash (the same for a
    /// message and for a later reference to it).
    static func recorded(_ id: String) -> String {
        id.utf8.count > 400 ? "long." + hex(SHA256.hash(data: Data(id.utf8))) + "@helpdesk.invalid" : id
    }

    /// The side database of small raw messages (SHA-256 hex → bytes).
    public static let rawDB = "mail.raw"

    /// A raw message by its SHA-256, from the side database or the blob store.
    public func rawMessage(_ sha256: String) throws -> [UInt8]? {
        guard BlobStore.isName(sha256) else { return nil }
        if let v = try processor.store.read({ try $0.get(Array(sha256.utf8), in: Self.rawDB) }) { return v }
        return blobs.contains(sha256) ? try blobs.read(sha256) : nil
    }

    /// Why a message is automatic, or nil for a person's mail.
    func automaticReason(_ m: MailMessage, sender: MailAddress) -> String? {
        if let id = m.messageId, token.verify(id) != nil { return "our own message came back" }
        if let own = ownAddress, sender.address.lowercased() == own { return "from the desk's own address" }
        let type = m.header("content-type")?.lowercased() ?? ""
        if type.hasPrefix("multipart/report") { return "a delivery status report (bounce)" }
        let local = sender.address.split(separator: "@").first.map { $0.lowercased() } ?? ""
        if ["mailer-daemon", "postmaster"].contains(local) { return "from \(local) (bounce)" }
        guard m.isAutomatic else { return nil }
        if let a = m.header("auto-submitted"), a.lowercased() != "no" { return "automatic (Auto-Submitted: \(a))" }
        if let p = m.header("precedence") { return "bulk mail (Precedence: \(p.trimmingCharacters(in: .whitespaces)))" }
        if m.header("list-id") != nil { return "mailing list (List-Id)" }
        if m.header("x-autoreply") != nil || m.header("x-autorespond") != nil { return "an auto-reply" }
        return "automatic (empty Return-Path)"
    }

    /// `[#123]` or `[№123]` in the subject.
    func subjectTicket(_ subject: String) -> Int? {
        var rest = Substring(subject)
        while let open = rest.firstIndex(of: "[") {
            rest = rest[rest.index(after: open)...]
            var s = rest
            guard let first = s.first, first == "#" || first == "№" else { continue }
            s = s.dropFirst()
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, digits.count <= 12, s.dropFirst(digits.count).first == "]", let n = Int(digits), n > 0 { return n }
        }
        return nil
    }

    /// "ru" for mostly Cyrillic text; nil (the account's default) otherwise.
    func language(of text: String) -> String? {
        var cyrillic = 0, latin = 0
        for u in text.unicodeScalars.prefix(500) {
            if (0x0400...0x04FF).contains(u.value) { cyrillic += 1 } else if (0x41...0x5A).contains(u.value) || (0x61...0x7A).contains(u.value) { latin += 1 }
        }
        return cyrillic > latin ? "ru" : nil
    }
}

/// Whitespace and newlines cut from both ends, without a trip through NSString.
func trimmed(_ s: String) -> String {
    let scalars = s.unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
    let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
    return String(scalars[first...last])
}

/// Lowercase hex of some bytes (blob names, thread-token signatures, command ids).
func hex(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}
