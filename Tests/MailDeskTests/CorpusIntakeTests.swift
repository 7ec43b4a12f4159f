import DeskEngine
import Foundation
import Mail
import MailDesk
import SupportDesk
import Testing

/// The fixture corpus of `Tests/MailTests/Fixtures` through the whole intake: each message ends up as
/// the ticket, contact and text its `.expected.json` says (kind `new`: a ticket of its own; `reply`: in
/// the ticket of the message it answers; `automatic`: recorded, no ticket).
@Suite("The message corpus through the intake")
struct CorpusIntakeTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MailTests").appendingPathComponent("Fixtures")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? [])
            .filter { $0.hasSuffix(".eml") }.map { String($0.dropLast(4)) }.sorted()
    }

    struct Expected: Decodable {
        struct From: Decodable { var name: String?; var address: String }
        var kind: String
        var from: From
        var subject: String
        var inReplyTo: [String]?
        var newTextPrefix: String?
    }

    @Test("the corpus is there") func corpusPresent() {
        #expect(Self.names.count >= 14)
    }

    @Test("each message becomes its expected ticket, contact and text", arguments: names)
    func fixture(_ name: String) async throws {
        let raw = try #require(FileManager.default.contents(atPath: Self.fixtures.appendingPathComponent(name + ".eml").path))
        let json = try #require(FileManager.default.contents(atPath: Self.fixtures.appendingPathComponent(name + ".expected.json").path))
        let expected = try JSONDecoder().decode(Expected.self, from: json)
        let env = try await MailEnv()
        let before = await env.processor.lastTicketNumber

        // A reply needs the message it answers: the client's earlier mail, recorded first.
        var original: Int?
        if expected.kind == "reply", let answered = expected.inReplyTo?.first {
            let first = "From: \(expected.from.address)\r\nSubject: the first message\r\nMessage-ID: <\(answered)>\r\n\r\nThe question.\r\n"
            let r = try await env.receive(Array(first.utf8))
            #expect(r.disposition == "new")
            original = r.ticket
        }
        let r = try await env.receive(Array(raw))
        switch expected.kind {
        case "automatic":
            #expect(r.disposition == "set-aside", "\(name): \(r)")
            #expect(await env.processor.lastTicketNumber == before, "\(name) opened a ticket")
            #expect(try env.mailReceived().last?.threadedBy == "set-aside")
        case "reply":
            #expect(r.disposition == "reference", "\(name): \(r)")
            #expect(r.ticket == original && r.comment == 2, "\(name): \(r)")
        default:
            #expect(r.disposition == "new", "\(name): \(r)")
            #expect(r.ticket == before + 1 && r.comment == 1)
        }
        guard expected.kind != "automatic", let n = r.ticket else { return }
        let t = try #require(try await env.processor.ticket(n))
        let comment = try #require(t.comments.first { $0.number == r.comment })
        // The contact is the sender.
        let contact = try #require(await env.processor.contact(byEmail: expected.from.address))
        #expect(comment.author == .contact(contact.id), "\(name)")
        if let prefix = expected.newTextPrefix {
            #expect(comment.text.hasPrefix(prefix), "\(name): \(comment.text.prefix(80))")
        }
        if expected.kind == "new" {
            #expect(t.subject == (expected.subject.isEmpty ? "(no subject)" : expected.subject))
            #expect(t.channel == .email)
        }
        // The raw message is kept by its hash.
        #expect(try env.intake.rawMessage(r.raw) == Array(raw))
    }
}
