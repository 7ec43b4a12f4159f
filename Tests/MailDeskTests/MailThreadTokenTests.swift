import Crypto
import Foundation
import MailDesk
import Testing

@Suite struct MailThreadTokenTests {
    let token = MailThreadToken(secret: Array(repeating: 7, count: 32), domain: "desk.example")

    @Test func messageIdVerifiesToItsTicketAndComment() throws {
        for (t, c, r) in [(1, 1, 0), (5, 3, 1), (123_456, 99, 12), (Int(Int32.max), 1, 0)] {
            let id = token.messageId(ticket: t, comment: c, recipient: r)
            #expect(id.hasPrefix("hd.\(t).\(c).\(r)."))
            #expect(id.hasSuffix("@desk.example"))
            let v = try #require(token.verify(id))
            #expect(v.ticket == t && v.comment == c)
        }
        // The signature is HMAC-SHA256 over "T.C.R", first 96 bits, in hex.
        let id = token.messageId(ticket: 5, comment: 3, recipient: 1)
        let mac = HMAC<SHA256>.authenticationCode(for: Data("5.3.1".utf8), using: SymmetricKey(data: Array(repeating: UInt8(7), count: 32)))
        #expect(id == "hd.5.3.1.\(hexString(Array(mac).prefix(12)))@desk.example")
        // Different recipients get different ids for the same comment.
        #expect(token.messageId(ticket: 5, comment: 3, recipient: 0) != id)
    }

    @Test func alteredTokensDoNotVerify() throws {
        let id = token.messageId(ticket: 5, comment: 3, recipient: 1)
        let parts = id.split(separator: "@")[0].split(separator: ".").map(String.init)
        let sig = parts[4]
        func make(_ t: String, _ c: String, _ r: String, _ s: String) -> String { "hd.\(t).\(c).\(r).\(s)@desk.example" }
        #expect(token.verify(make("5", "3", "1", sig)) != nil)
        #expect(token.verify(make("6", "3", "1", sig)) == nil, "another ticket")
        #expect(token.verify(make("50", "3", "1", sig)) == nil, "another ticket")
        #expect(token.verify(make("+5", "3", "1", sig)) == nil, "same number, other spelling")
        #expect(token.verify(make("05", "3", "1", sig)) == nil, "same number, other spelling")
        #expect(token.verify(make("5", "4", "1", sig)) == nil, "another comment")
        #expect(token.verify(make("5", "3", "2", sig)) == nil, "another recipient")
        let flipped = String(sig.dropLast()) + (sig.last == "0" ? "1" : "0")
        #expect(token.verify(make("5", "3", "1", flipped)) == nil, "one hex digit changed")
        #expect(token.verify(make("5", "3", "1", String(sig.dropLast()))) == nil, "shortened signature")
        #expect(token.verify(make("5", "3", "1", sig + "0")) == nil, "longer signature")
        #expect(token.verify(make("5", "3", "1", String(repeating: "0", count: 24))) == nil, "zero signature")
        // Another account's secret.
        let other = MailThreadToken(secret: Array(repeating: 8, count: 32), domain: "desk.example")
        #expect(other.verify(id) == nil)
        #expect(token.verify(other.messageId(ticket: 5, comment: 3, recipient: 1)) == nil)
    }

    @Test(arguments: ["", "m1@client.example", "no-at-sign", "hd.1.2.3@desk.example", "hd.1.2.3.4.5@desk.example",
                      "hd.a.b.c.abcdefabcdefabcdefabcdef@desk.example", "xx.1.1.0.abcdefabcdefabcdefabcdef@desk.example",
                      "<hd.1.1.0.abcdefabcdefabcdefabcdef@desk.example>", "CAFxyz+abc@mail.gmail.com",
                      "raw.e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855@helpdesk.invalid"])
    func nonTokenIdsDoNotVerify(_ id: String) {
        #expect(token.verify(id) == nil)
    }

    @Test func ticketZeroOrNegativeNeverVerifies() {
        // Even correctly signed: tickets and comments are numbered from 1.
        for (t, c) in [(0, 1), (1, 0), (-1, 1)] {
            #expect(token.verify(token.messageId(ticket: t, comment: c, recipient: 0)) == nil)
        }
    }

    @Test func withoutTheDomainPartItIsNotAToken() {
        let id = token.messageId(ticket: 5, comment: 3, recipient: 1)
        #expect(token.verify(String(id.split(separator: "@")[0])) == nil)
    }

    @Test func loadOrCreateSecretCreatesA32ByteFileOnce() throws {
        let dir = try TempDir()
        let path = dir.path("mail-secret")
        #expect(!FileManager.default.fileExists(atPath: path.path))
        let first = try MailThreadToken.loadOrCreateSecret(at: path)
        #expect(first.count == 32)
        #expect(FileManager.default.contents(atPath: path.path).map(Array.init) == first)
        let attributes = try FileManager.default.attributesOfItem(atPath: path.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(!FileManager.default.fileExists(atPath: path.appendingPathExtension("tmp").path))
        // Again: the same bytes, the file untouched.
        let second = try MailThreadToken.loadOrCreateSecret(at: path)
        #expect(second == first)
        #expect(FileManager.default.contents(atPath: path.path).map(Array.init) == first)
        // Tokens made with it survive a restart.
        let id = MailThreadToken(secret: first, domain: "d.example").messageId(ticket: 9, comment: 2, recipient: 0)
        #expect(MailThreadToken(secret: second, domain: "d.example").verify(id)?.ticket == 9)
        // Another desk gets another secret.
        let elsewhere = try MailThreadToken.loadOrCreateSecret(at: dir.path("other-secret"))
        #expect(elsewhere.count == 32 && elsewhere != first)
    }

    @Test func aTooShortSecretFileIsReplaced() throws {
        let dir = try TempDir()
        let path = dir.path("mail-secret")
        try Data([1, 2, 3]).write(to: path)
        let secret = try MailThreadToken.loadOrCreateSecret(at: path)
        #expect(secret.count == 32)
        #expect(FileManager.default.contents(atPath: path.path).map(Array.init) == secret)
        #expect(try MailThreadToken.loadOrCreateSecret(at: path) == secret)
    }
}
