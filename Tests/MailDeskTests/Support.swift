import Crypto
import DeskEngine
import EventLog
import Foundation
import Mail
import MailDesk
import SupportDesk
import Testing

// Shared helpers of the MailDesk tests: temporary folders, a small desk with the mail intake on a
// `MemoryEventStore`, raw test messages, and reading the log.

/// A temporary directory removed when the value is deinitialised.
final class TempDir: @unchecked Sendable {
    let url: URL
    init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("maildesk-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Lowercase hex of bytes.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// SHA-256 (hex) computed with swift-crypto, independently of the blob store.
func sha256Hex(_ bytes: [UInt8]) -> String { hexString(SHA256.hash(data: Data(bytes))) }

/// Deterministic pseudo-random bytes (xorshift), so tests need no randomness.
func pseudoRandomBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var x = seed | 1
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        out[i] = UInt8(truncatingIfNeeded: x >> 24)
    }
    return out
}

/// Names of the entries of a directory (empty when it does not exist).
func entries(_ url: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
}

// MARK: The desk

enum TestDesk {
    /// Monday 2 March 2026, 06:00 UTC (whole seconds).
    static let start = Date(timeIntervalSince1970: 1_772_431_200)
    static let admin = Party.staff("admin")
    static let anna = Party.staff("s1")
    static let accountName = "Acme Support"
    static let signature = "Anna Petrova\nSecond-line support, ext. 204"

    /// The account (created by the system), staff member s1 (Anna Petrova) with a signature, the
    /// organisation o1 (domain client.example) with contacts c1 (Carl Client) and c2 (Bella Buyer).
    static func setUp(_ p: CommandProcessor) async throws {
        _ = try await p.execute(Command(actor: .system("setup"), .createAccount(
            name: accountName, timeZone: "UTC", defaultLanguage: "en", admin: "admin", adminName: "Admin",
            adminEmail: "admin@desk.example")))
        _ = try await p.execute(Command(actor: admin, .addStaff(id: "s1", name: "Anna Petrova", email: "anna@desk.example",
                                                                role: .staff, isDeveloper: false)))
        _ = try await p.execute(Command(actor: anna, .changeStaff(id: "s1", name: nil, email: nil, role: nil, isDeveloper: nil,
                                                                  signature: signature, active: nil)))
        _ = try await p.execute(Command(actor: admin, .createOrganisation(id: "o1", name: "Client Corp", tierId: nil,
                                                                          domains: ["client.example"])))
        _ = try await p.execute(Command(actor: admin, .createContact(id: "c1", name: "Carl Client", emails: ["carl@client.example"],
                                                                     phones: [], organisation: "o1", language: nil)))
        _ = try await p.execute(Command(actor: admin, .createContact(id: "c2", name: "Bella Buyer", emails: ["bella@client.example"],
                                                                     phones: [], organisation: "o1", language: nil)))
    }
}

/// A desk with the mail intake over a `MemoryEventStore`, with a manual clock.
struct MailEnv: Sendable {
    let dir: TempDir
    let store: MemoryEventStore
    let clock: ManualClock
    let processor: CommandProcessor
    let blobs: BlobStore
    let token: MailThreadToken
    let intake: MailIntake

    static let secret: [UInt8] = Array("0123456789abcdef0123456789abcdef".utf8)

    init(limits: MailLimits = MailLimits(), ownAddress: String? = "support@desk.example") async throws {
        dir = try TempDir()
        store = MemoryEventStore()
        clock = ManualClock(TestDesk.start)
        processor = try CommandProcessor(store: store, clock: clock)
        try await TestDesk.setUp(processor)
        blobs = try BlobStore(root: dir.path("blobs"))
        token = MailThreadToken(secret: Self.secret, domain: "desk.example")
        intake = MailIntake(processor: processor, blobs: blobs, token: token, limits: limits, ownAddress: ownAddress)
    }

    func receive(_ mail: TestMail) async throws -> MailIntakeResult {
        try await receive(mail.bytes)
    }

    func receive(_ raw: [UInt8]) async throws -> MailIntakeResult {
        try await intake.receive(raw).0
    }

    /// The error the intake answers, or nil if it took the message.
    func refusal(_ raw: [UInt8]) async -> MailIntakeError? {
        do {
            _ = try await intake.receive(raw)
            return nil
        } catch {
            return error
        }
    }

    /// Every event of the log with its record.
    func events() throws -> [(event: DeskEvent, record: RecordedEvent)] {
        try store.readAll(from: 1, limit: .max).map {
            (try EventCodec.decode(type: $0.type, schemaVersion: $0.schemaVersion, payload: $0.payload), $0)
        }
    }

    func mailReceived() throws -> [MailReceived] {
        try events().compactMap { if case .mailReceived(let m) = $0.event { m } else { nil } }
    }

    func deliveries() throws -> [(DeliveryRecorded, RecordedEvent)] {
        try events().compactMap { if case .deliveryRecorded(let d) = $0.event { (d, $0.record) } else { nil } }
    }
}

// MARK: Raw test messages

/// An incoming message, written as an MTA would deliver it (CRLF line ends).
struct TestMail {
    struct Attachment {
        var name: String
        var type: String
        var bytes: [UInt8]
    }

    /// Header fields written first (Received, Auto-Submitted, …).
    var top: [(String, String)] = [("Received", "from mx.client.example by mx.desk.example; Mon, 02 Mar 2026 06:00:01 +0000")]
    var from: String? = "Carl Client <carl@client.example>"
    var to = "support@desk.example"
    var subject = "Printer does not print"
    var messageId: String? = "m1@client.example"
    var inReplyTo: [String] = []
    var references: [String] = []
    var date = "Mon, 02 Mar 2026 06:00:00 +0000"
    var contentType = "text/plain; charset=utf-8"
    var body = "Hello,\nthe printer on floor 3 does not print.\nCarl"
    var attachments: [Attachment] = []

    var bytes: [UInt8] {
        var lines: [String] = []
        for (n, v) in top { lines.append("\(n): \(v)") }
        if let from { lines.append("From: \(from)") }
        lines.append("To: \(to)")
        lines.append("Subject: \(MailEncoding.encodeHeaderWord(subject))")
        lines.append("Date: \(date)")
        if let messageId { lines.append("Message-ID: <\(messageId)>") }
        if !inReplyTo.isEmpty { lines.append("In-Reply-To: " + inReplyTo.map { "<\($0)>" }.joined(separator: " ")) }
        if !references.isEmpty { lines.append("References: " + references.map { "<\($0)>" }.joined(separator: " ")) }
        lines.append("MIME-Version: 1.0")
        let textBody = body.replacingOccurrences(of: "\n", with: "\r\n")
        if attachments.isEmpty {
            lines.append("Content-Type: \(contentType)")
            lines.append("Content-Transfer-Encoding: 8bit")
            return Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + textBody + "\r\n").utf8)
        }
        let boundary = "=_test_boundary_42"
        lines.append("Content-Type: multipart/mixed; boundary=\"\(boundary)\"")
        var out = lines.joined(separator: "\r\n") + "\r\n\r\nThis is a MIME message.\r\n"
        out += "--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        out += textBody + "\r\n"
        for a in attachments {
            let ascii = a.name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 }
            let param = ascii ? "filename=\"\(a.name)\""
                : "filename*=UTF-8''" + (a.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x")
            out += "--\(boundary)\r\nContent-Type: \(a.type)\r\nContent-Disposition: attachment; \(param)\r\n"
            out += "Content-Transfer-Encoding: base64\r\n\r\n"
            out += Data(a.bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed]) + "\r\n"
        }
        out += "--\(boundary)--\r\n"
        return Array(out.utf8)
    }
}
