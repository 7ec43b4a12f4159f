import Foundation
import Testing
@testable import Mail

// A corpus of real-shaped messages (Fixtures/*.eml, CRLF as on the wire) with hand-written
// expectations (Fixtures/*.expected.json). Fixtures are read by path next to this file, so the
// test target needs no resources. `kind` (new / reply / automatic) says what the intake should do.

enum Corpus {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Fixture base names (without `.eml`), sorted.
    static let names: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".eml") }.map { String($0.dropLast(4)) }.sorted()
    }()

    static func raw(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name + ".eml")))
    }

    static func expectation(_ name: String) throws -> Expectation {
        let data = try Data(contentsOf: directory.appendingPathComponent(name + ".expected.json"))
        return try JSONDecoder().decode(Expectation.self, from: data)
    }
}

struct Expectation: Decodable {
    enum Kind: String, Decodable { case new, reply, automatic }
    struct Address: Decodable { var name: String?; var address: String }
    struct Attachment: Decodable {
        var filename: String?
        var contentType: String
        var size: Int
        /// FNV-1a 64 of the decoded bytes, computed from the original payload when the fixture was written.
        var fnv1a64: String
        var isInline: Bool
        var contentId: String?
        var disposition: String?
        var charset: String?
        var decodedContains: String?
    }
    struct Inner: Decodable { var subject: String; var messageId: String; var from: String; var textPrefix: String }

    var kind: Kind
    var from: Address
    var to: [Address]?
    var subject: String
    var messageId: String
    var inReplyTo: [String]
    var references: [String]
    var date: String
    var htmlWasConverted: Bool
    var newTextPrefix: String
    var newTextSuffix: String?
    var newTextContains: [String]?
    /// Nil: the message has no quoted earlier message.
    var quotedTextPrefix: String?
    var quotedTextContains: [String]?
    var attachments: [Attachment]
    var innerMessage: Inner?
    var isAutomatic: Bool
}

func fnv1aHex(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    bytes.withUnsafeBytes { fnv1a(&h, $0) }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

@Test func corpusIsComplete() throws {
    #expect(Corpus.names.count >= 14, "fixture directory: \(Corpus.directory.path)")
    for name in Corpus.names {
        let raw = try Corpus.raw(name)
        #expect(raw.count < 8192, "\(name) is small")
        // CRLF line ends only, as on the wire.
        for (i, b) in raw.enumerated() where b == 0x0A {
            #expect(i > 0 && raw[i - 1] == 0x0D, "\(name): bare LF at byte \(i)")
            if !(i > 0 && raw[i - 1] == 0x0D) { break }
        }
        _ = try Corpus.expectation(name)
    }
    let kinds = Set(try Corpus.names.map { try Corpus.expectation($0).kind })
    #expect(kinds == [.new, .reply, .automatic])
}

@Test(arguments: Corpus.names)
func corpusMessage(_ name: String) throws {
    let m = MailMessage.parse(try Corpus.raw(name))
    let e = try Corpus.expectation(name)

    #expect(m.problems == [], "\(name)")
    let from = try #require(m.from.first, "\(name): From")
    #expect(m.from.count == 1)
    #expect(from.address == e.from.address, "\(name)")
    #expect(from.name == e.from.name, "\(name)")
    if let to = e.to { #expect(m.to.map(\.address) == to.map(\.address) && m.to.map(\.name) == to.map(\.name), "\(name)") }
    #expect(m.subject == e.subject, "\(name)")
    #expect(m.messageId == e.messageId, "\(name)")
    #expect(m.inReplyTo == e.inReplyTo, "\(name)")
    #expect(m.references == e.references, "\(name)")
    #expect(m.date == ISO8601DateFormatter().date(from: e.date), "\(name)")
    #expect(m.htmlWasConverted == e.htmlWasConverted, "\(name)")
    #expect(m.isAutomatic == e.isAutomatic, "\(name)")

    // The new text, and the quoted earlier message kept out of it.
    #expect(m.newText.hasPrefix(e.newTextPrefix), "\(name): newText = \(m.newText.debugDescription)")
    if let suffix = e.newTextSuffix { #expect(m.newText.hasSuffix(suffix), "\(name): newText = \(m.newText.debugDescription)") }
    for phrase in e.newTextContains ?? [] { #expect(m.newText.contains(phrase), "\(name): \(phrase)") }
    #expect(m.text.contains(e.newTextPrefix.split(separator: "\n").last.map(String.init) ?? ""), "\(name)")
    if let quotedPrefix = e.quotedTextPrefix {
        let quoted = try #require(m.quotedText, "\(name): a quote was expected")
        #expect(quoted.hasPrefix(quotedPrefix), "\(name): quotedText = \(quoted.debugDescription)")
        for phrase in e.quotedTextContains ?? [] {
            #expect(quoted.contains(phrase), "\(name): \(phrase)")
            #expect(!m.newText.contains(phrase.trimmingCharacters(in: CharacterSet(charactersIn: "> "))), "\(name): quote left in newText")
        }
        #expect(!m.newText.contains(quotedPrefix.split(separator: "\n")[0]), "\(name): reply header left in newText")
    } else {
        #expect(m.quotedText == nil, "\(name): unexpected quote \(m.quotedText.debugDescription)")
        #expect(m.newText == m.text.trimmingCharacters(in: .whitespacesAndNewlines), "\(name)")
    }

    // Attachments: metadata and decoded content (size + FNV-1a of the original payload).
    #expect(m.attachments.count == e.attachments.count, "\(name): \(m.attachments.map(\.contentType))")
    for (a, x) in zip(m.attachments, e.attachments) {
        #expect(a.filename == x.filename, "\(name)")
        #expect(a.contentType == x.contentType, "\(name)")
        #expect(a.isInline == x.isInline, "\(name): \(a.contentType)")
        #expect(a.contentId == x.contentId, "\(name)")
        #expect(a.disposition == x.disposition, "\(name)")
        #expect(a.charset == x.charset, "\(name)")
        let bytes = a.decodedBytes()
        #expect(bytes.count == x.size, "\(name): \(a.filename ?? a.contentType)")
        #expect(fnv1aHex(bytes) == x.fnv1a64, "\(name): \(a.filename ?? a.contentType)")
        if let s = x.decodedContains { #expect(String(decoding: bytes, as: UTF8.self).contains(s), "\(name)") }
    }
    if let inner = e.innerMessage {
        let att = try #require(m.attachments.first { $0.contentType == "message/rfc822" })
        let im = MailMessage.parse(att.decodedBytes())
        #expect(im.subject == inner.subject && im.messageId == inner.messageId && im.from.first?.address == inner.from)
        #expect(im.text.hasPrefix(inner.textPrefix))
    }

    // The intake's decision, derived from what the parser reports.
    let derived: Expectation.Kind = m.isAutomatic ? .automatic : m.inReplyTo.isEmpty && m.references.isEmpty ? .new : .reply
    #expect(derived == e.kind, "\(name)")
}

/// Line ends must not matter: the same corpus with bare LF parses to the same result.
@Test(arguments: Corpus.names)
func corpusMessageWithBareLineFeeds(_ name: String) throws {
    let raw = try Corpus.raw(name)
    var lf: [UInt8] = []
    for (i, b) in raw.enumerated() where !(b == 0x0D && i + 1 < raw.count && raw[i + 1] == 0x0A) { lf.append(b) }
    let a = MailMessage.parse(raw), b = MailMessage.parse(lf)
    #expect(a.subject == b.subject && a.from == b.from && a.messageId == b.messageId, "\(name)")
    #expect(a.newText == b.newText, "\(name)")
    #expect(a.quotedText == b.quotedText, "\(name)")
    #expect(a.attachments.map(\.filename) == b.attachments.map(\.filename), "\(name)")
    #expect(b.problems == [], "\(name)")
}

/// The HTML alternative alone (as from a client that sends only HTML) yields the same new text
/// and reply header as the text/plain part: Outlook's MsoNormal paragraphs, Apple Mail's divs.
@Test(arguments: ["outlook-reply", "apple-mail-inline-image"])
func corpusHtmlAlternativeMatchesPlain(_ name: String) throws {
    let raw = try Corpus.raw(name)
    var s = String(decoding: raw, as: UTF8.self)
    let r = try #require(s.range(of: "Content-Type: text/plain"))
    s.replaceSubrange(r, with: "Content-Type: text/x-hidden")  // the plain part becomes an unknown leaf
    let plain = MailMessage.parse(raw), html = MailMessage.parse(Array(s.utf8))
    #expect(!plain.htmlWasConverted && html.htmlWasConverted)
    #expect(html.newText == plain.newText.replacingOccurrences(of: "\n\n\n", with: "\n\n"), "\(name)")
    #expect(html.quotedText?.split(separator: "\n").prefix(4) == plain.quotedText?.split(separator: "\n").prefix(4), "\(name)")
}
